// REST load for the benchmark. Closed model (MODE=vus: VUS callers in a loop) or open model
// (MODE=rate: RATE requests/s whatever the latency). Writes a JSON summary to SUMMARY.
import http from "k6/http";
import { check } from "k6";

const body = JSON.stringify({
  model: __ENV.MODEL,
  messages: [{ role: "user", content: "Hello, how are you today?" }],
  max_tokens: 50,
});
const params = {
  headers: { "content-type": "application/json", authorization: `Bearer ${__ENV.KEY}` },
};

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ["avg", "p(50)", "p(90)", "p(99)", "max", "count"],
  scenarios: {
    load: __ENV.MODE === "rate"
      ? { executor: "constant-arrival-rate", rate: Number(__ENV.RATE), timeUnit: "1s",
          duration: __ENV.DURATION, preAllocatedVUs: Number(__ENV.VUS), maxVUs: 2000 }
      : { executor: "constant-vus", vus: Number(__ENV.VUS), duration: __ENV.DURATION },
  },
};

export default function () {
  const response = http.post(__ENV.URL, body, params);
  check(response, { ok: (r) => r.status === 200 });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
