import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeJsonRpcRequest, decodeJsonRpcResponse, encodeJsonRpcResponse, JsonObjectStreamSplitter } from "./jsonrpc.js";
import { ProtoDecodeError } from "./schema.js";

test("responses re-encoded by pfs_middleware (Python json.dumps) decode the same as Go's", () => {
  const go = decodeJsonRpcResponse('{"id":2,"result":{"MountID":"abc","RootDirInodeNumber":1},"error":null}\n');
  const py = decodeJsonRpcResponse('{"id": 2, "result": {"MountID": "abc", "RootDirInodeNumber": 1}, "error": null}');
  assert.deepEqual(py, go);
  assert.equal(decodeJsonRpcResponse('{"id":3,"result":null,"error":""}').error, null, "an empty error string is no error");
  assert.throws(() => decodeJsonRpcResponse('{"id":3,"error":5}'), ProtoDecodeError);
  assert.equal(encodeJsonRpcResponse("uuid-1", { A: 1n }, null), '{"id":"uuid-1","result":{"A":1},"error":null}\n');
  assert.equal(encodeJsonRpcResponse(7, { A: 1 }, "errno: 2"), '{"id":7,"result":null,"error":"errno: 2"}\n');
});

test("requests decode whatever the key order and reject bad envelopes", () => {
  const r = decodeJsonRpcRequest('{"jsonrpc":"2.0","method":"Server.RpcPing","params":[{"Message":"Ping"}],"id":0}');
  assert.deepEqual(r, { method: "Server.RpcPing", id: 0, params: { Message: "Ping" } });
  assert.throws(() => decodeJsonRpcRequest('{"method":1}'), /method must be a string/);
  assert.throws(() => decodeJsonRpcRequest('{"method":"a","params":{}}'), /params must be an array/);
  assert.throws(() => decodeJsonRpcRequest("nope"), /not valid JSON/);
});

test("the stream splitter finds back-to-back requests across chunk boundaries", () => {
  const a = '{"method":"Server.RpcPing","params":[{"Message":"}{\\"]"}],"id":0}';
  const b = '{"jsonrpc":"2.0","method":"Server.RpcUnmount","id":3,"params":[{"MountID":"x"}]}';
  const stream = a + "\n" + b + a;
  for (const size of [1, 3, 7, stream.length]) {
    const s = new JsonObjectStreamSplitter();
    const got: string[] = [];
    for (let i = 0; i < stream.length; i += size) got.push(...s.push(stream.slice(i, i + size)));
    assert.deepEqual(got, [a, b, a]);
  }
  assert.throws(() => new JsonObjectStreamSplitter().push("[1]"), /expected '\{'/);
  assert.throws(() => new JsonObjectStreamSplitter(10).push('{"aaaaaaaaaaaaaaa'), /longer than 10 bytes/);
});
