"""Images through Envoy with the official `openai` SDK against the scripted double of OpenAI's
image APIs: generations (whole and streamed `partial_images`), edits and variations as
multipart uploads (files reach the upstream byte for byte, the model rewritten); answers and
events validated by the spec's schemas; errors in OpenAI's shape naming the field."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import fastjsonschema
import grpc
import openai
import pytest
import requests

from llm_gateway.v1 import images_pb2, llm_gateway_service_pb2_grpc
from tests.support.grpc_client import METADATA, error_details
from tests.support.scripted_images import PNG
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack

_SCHEMAS = json.loads(
    (Path(__file__).parent / "fixtures" / "openai_response_schemas.json").read_text()
)
validate_images = fastjsonschema.compile(_SCHEMAS["images"])
validate_generation_event = fastjsonschema.compile(_SCHEMAS["image_generation_event"])
validate_edit_event = fastjsonschema.compile(_SCHEMAS["image_edit_event"])
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
MASK = PNG


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_generate_b64_and_url(client: openai.OpenAI, stack: Stack) -> None:
    answer = client.images.generate(model="gpt-image-1", prompt="a cat", n=2, size="1024x1024")
    assert len(answer.data) == 2 and base64.b64decode(answer.data[0].b64_json or "") == PNG
    assert answer.usage is not None and answer.usage.output_tokens == 272
    url = client.images.generate(model="dall-e-3", prompt="a dog", response_format="url")
    assert url.data[0].url and url.data[0].revised_prompt == "a dog"
    raw = requests.post(
        f"{stack.rest_url}/v1/images/generations",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gpt-image-1", "prompt": "x", "quality": "low", "background": "opaque",
              "output_format": "webp", "output_compression": 50, "moderation": "low"},
        timeout=10,
    )  # fmt: skip
    validate_images(raw.json())


def test_default_model_is_the_apis(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    client.images.generate(prompt="a tree")
    assert upstream.last().body["model"] == "dall-e-2"


def test_streamed_partial_images(client: openai.OpenAI, stack: Stack) -> None:
    events = list(
        client.images.generate(model="gpt-image-1", prompt="a cat", stream=True, partial_images=2)
    )
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    raw = requests.post(
        f"{stack.rest_url}/v1/images/generations",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gpt-image-1", "prompt": "x", "stream": True, "partial_images": 1},
        timeout=10,
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in raw.text.split("\n\n") if f]
    assert frames[0].startswith("event: image_generation.partial_image\ndata: ")
    for frame in frames:
        validate_generation_event(json.loads(frame.partition("data: ")[2]))
    assert "[DONE]" not in raw.text  # the image API sends no end marker


def test_edit_uploads_several_images_and_a_mask(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    answer = client.images.edit(
        model="house-images",  # the gateway's name for the upstream's gpt-image-1
        image=[("a.png", PNG, "image/png"), ("b.jpg", JPEG, "image/jpeg")],
        mask=("mask.png", MASK, "image/png"),
        prompt="add a hat",
        n=1,
        input_fidelity="high",
    )
    validate_images(answer.model_dump(exclude_none=True))
    sent = upstream.last()
    assert sent.path == "/v1/images/edits"
    assert sent.body["model"] == "gpt-image-1" and sent.body["prompt"] == "add a hat"
    files = sent.body["files"]
    assert [(f["field"], f["filename"], f["sha256"]) for f in files] == [
        ("image[]", "a.png", _digest(PNG)),
        ("image[]", "b.jpg", _digest(JPEG)),
        ("mask", "mask.png", _digest(MASK)),
    ]


def test_streamed_edit(client: openai.OpenAI) -> None:
    events = list(
        client.images.edit(
            model="gpt-image-1",
            image=("a.png", PNG, "image/png"),
            prompt="blue",
            stream=True,
            partial_images=1,
        )
    )
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    for event in events:
        validate_edit_event(event.model_dump(exclude_none=True))


def test_variation(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    answer = client.images.create_variation(image=("a.png", PNG, "image/png"), n=2)
    assert len(answer.data) == 2
    assert upstream.last().body["model"] == "dall-e-2"
    assert upstream.last().body["n"] == "2"


def test_a_file_that_is_not_an_image_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(
            model="gpt-image-1", image=("notes.txt", b"just text", "text/plain"), prompt="x"
        )
    assert caught.value.param == "image" and caught.value.code == "invalid_image_format"
    with pytest.raises(openai.BadRequestError) as mask:
        client.images.edit(
            model="gpt-image-1",
            image=("a.png", PNG, "image/png"),
            mask=("m.jpg", JPEG, "image/jpeg"),
            prompt="x",
        )
    assert mask.value.param == "mask"


@pytest.mark.parametrize(
    ("fields", "files", "param"),
    [
        ({"model": "gpt-image-1"}, {"image": ("a.png", PNG, "image/png")}, "prompt"),
        ({"model": "gpt-image-1", "prompt": "x"}, {}, "image"),
        ({"model": "gpt-image-1", "prompt": "x", "n": "11"},
         {"image": ("a.png", PNG, "image/png")}, "n"),
    ],
)  # fmt: skip
def test_missing_and_bad_parts_name_the_field(
    stack: Stack, fields: dict[str, str], files: dict[str, tuple[str, bytes, str]], param: str
) -> None:
    # Every part as multipart/form-data (`(None, value)`: a text field).
    parts = {**{name: (None, value) for name, value in fields.items()}, **files}
    answer = requests.post(
        f"{stack.rest_url}/v1/images/edits",
        headers={"authorization": f"Bearer {KEY}"},
        files=parts,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def test_json_to_an_edit_is_refused(stack: Stack) -> None:
    answer = requests.post(
        f"{stack.rest_url}/v1/images/edits",
        headers={"authorization": f"Bearer {KEY}"},
        json={"prompt": "x"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_content_type"


def test_upstream_refusals_reach_the_caller(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="dall-e-3", prompt="x", n=2)
    assert caught.value.param == "n"
    with pytest.raises(openai.BadRequestError) as stream:
        client.images.generate(model="dall-e-2", prompt="x", stream=True)
    assert stream.value.param == "stream"


def test_a_chat_model_does_not_make_images(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="gpt-echo", prompt="x")
    assert caught.value.code == "operation_not_supported"
    assert len(upstream.requests) == before


def test_typed_image_bytes(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub, upstream: ScriptedUpstream
) -> None:
    answer = typed.CreateImage(
        images_pb2.ImageRequest(model="house-images", prompt="a cat", n=2, quality="low"),
        metadata=METADATA,
        timeout=10,
    )
    assert [image.data for image in answer.data] == [PNG, PNG]
    assert answer.usage.output_tokens == 272
    sent = upstream.last().body
    assert sent == {"prompt": "a cat", "model": "gpt-image-1", "n": 2, "quality": "low"}
    urls = typed.CreateImage(
        images_pb2.ImageRequest(model="dall-e-3", prompt="a dog"), metadata=METADATA, timeout=10
    )
    assert urls.data[0].url and urls.data[0].revised_prompt == "a dog"
    assert not urls.HasField("usage")


def test_typed_image_errors(typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        typed.CreateImage(
            images_pb2.ImageRequest(model="gpt-image-1", prompt="x", n=11),
            metadata=METADATA,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error, _ = error_details(caught.value)
    assert error.param == "n"


def test_images_through_a_gemini_image_model(
    client: openai.OpenAI, stack: Stack, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.requests)
    answer = client.images.generate(
        model="gemini-images", prompt="a cat in a hat", n=2, size="1536x1024", user="u-1"
    )
    assert [base64.b64decode(image.b64_json or "") for image in answer.data] == [PNG, PNG]
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (14, 2580)
    validate_images(answer.model_dump(exclude_none=True))
    sent = upstream.requests[before:]
    assert [r.path for r in sent] == [
        "/gemini/v1beta/models/gemini-2.5-flash-image:generateContent"
    ] * 2  # one call an image
    assert sent[0].body == {
        "contents": [{"role": "user", "parts": [{"text": "a cat in a hat"}]}],
        "generationConfig": {
            "responseModalities": ["IMAGE"],
            "imageConfig": {"aspectRatio": "3:2"},
        },
    }
    raw = requests.post(
        f"{stack.rest_url}/v1/images/generations",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gemini-images", "prompt": "x", "response_format": "b64_json", "user": "u"},
        timeout=10,
    )
    validate_images(raw.json())
    assert raw.headers["x-llm-gateway-dropped"] == "user"  # a platform hint, not sent


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"response_format": "url"}, "response_format", "unsupported_parameter"),
        ({"quality": "hd"}, "quality", "unsupported_parameter"),
        ({"stream": True}, "stream", "unsupported_parameter"),
        ({"output_format": "webp"}, "output_format", "unsupported_parameter"),
        ({"prompt": "something forbidden"}, "prompt", "moderation_blocked"),
    ],
)
def test_what_a_gemini_image_model_cannot_do_is_named(
    stack: Stack, extra: dict[str, object], param: str, code: str
) -> None:
    raw = requests.post(
        f"{stack.rest_url}/v1/images/generations",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gemini-images", "prompt": "a cat", **extra},
        timeout=10,
    )
    assert raw.status_code == 400, raw.text
    error = raw.json()["error"]
    assert error["param"] == param and error["code"] == code


def test_a_gemini_image_edit_says_there_is_no_such_api(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(model="gemini-images", image=("a.png", PNG, "image/png"), prompt="x")
    assert caught.value.code == "operation_not_supported"


def test_typed_images_through_gemini(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub,
) -> None:
    answer = typed.CreateImage(
        images_pb2.ImageRequest(model="gemini-images", prompt="a cat", size="1024x1792"),
        metadata=METADATA,
        timeout=10,
    )
    assert [image.data for image in answer.data] == [PNG]
    assert answer.usage.output_tokens == 1290


def test_typed_image_edit_and_variation(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub, upstream: ScriptedUpstream
) -> None:
    edited = typed.CreateImageEdit(
        images_pb2.ImageEditRequest(
            model="house-images",
            images=[images_pb2.ImageFile(data=PNG, filename="a.png"),
                    images_pb2.ImageFile(data=JPEG, filename="b.jpg")],
            mask=images_pb2.ImageFile(data=MASK, filename="mask.png"),
            prompt="add a hat",
            input_fidelity="high",
        ),
        metadata=METADATA,
        timeout=10,
    )  # fmt: skip
    assert [image.data for image in edited.data] == [PNG] and edited.usage.output_tokens == 272
    sent = upstream.last()
    assert sent.path == "/v1/images/edits" and sent.body["model"] == "gpt-image-1"
    assert sent.body["input_fidelity"] == "high" and sent.body["prompt"] == "add a hat"
    assert [(f["field"], f["filename"], f["sha256"]) for f in sent.body["files"]] == [
        ("image[]", "a.png", _digest(PNG)),
        ("image[]", "b.jpg", _digest(JPEG)),
        ("mask", "mask.png", _digest(MASK)),
    ]
    varied = typed.CreateImageVariation(
        images_pb2.ImageVariationRequest(
            image=images_pb2.ImageFile(data=PNG, filename="a.png"), n=2,
            response_format="b64_json",
        ),
        metadata=METADATA,
        timeout=10,
    )  # fmt: skip
    assert [image.data for image in varied.data] == [PNG, PNG]
    assert upstream.last().path == "/v1/images/variations"


def test_typed_image_edit_refuses_a_file_that_is_not_an_image(
    typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.requests)
    with pytest.raises(grpc.RpcError) as caught:
        typed.CreateImageEdit(
            images_pb2.ImageEditRequest(
                images=[images_pb2.ImageFile(data=b"not an image", filename="a.png")],
                prompt="x",
            ),
            metadata=METADATA,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error, _ = error_details(caught.value)
    assert error.param == "image" and len(upstream.requests) == before
