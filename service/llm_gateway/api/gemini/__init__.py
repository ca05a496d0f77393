"""The Gemini API surface: requests in, answers, streamed responses and errors out."""
