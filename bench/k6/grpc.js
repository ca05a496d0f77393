// gRPC load on llm_gateway.v1.LlmGatewayService/CreateChatCompletion. The service is loaded
// from protos/ in the init stage, so that no request pays for reflection. Same modes and
// summary as rest.js.
import grpc from "k6/net/grpc";
import { check } from "k6";

const client = new grpc.Client();
client.load([__ENV.PROTOS], "llm_gateway/v1/llm_gateway_service.proto");
const request = {
  model: __ENV.MODEL,
  messages: [{ role: "user", text: "Hello, how are you today?" }],
  max_tokens: 50,
};
const metadata = { metadata: { authorization: `Bearer ${__ENV.KEY}` } };

export const options = {
  summaryTrendStats: ["avg", "p(50)", "p(90)", "p(99)", "max", "count"],
  scenarios: {
    load: __ENV.MODE === "rate"
      ? { executor: "constant-arrival-rate", rate: Number(__ENV.RATE), timeUnit: "1s",
          duration: __ENV.DURATION, preAllocatedVUs: Number(__ENV.VUS), maxVUs: 2000 }
      : { executor: "constant-vus", vus: Number(__ENV.VUS), duration: __ENV.DURATION },
  },
};

let connected = false;

export default function () {
  if (!connected) {
    client.connect(__ENV.TARGET, { plaintext: true });
    connected = true;
  }
  const response = client.invoke(
    "llm_gateway.v1.LlmGatewayService/CreateChatCompletion", request, metadata);
  check(response, { ok: (r) => r && r.status === grpc.StatusOK });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
