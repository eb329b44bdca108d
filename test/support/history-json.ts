import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { createRequire } from 'node:module';

export type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): History;
}

// The SDK's historyToJSON/historyFromJSON (@temporalio/common/lib/proto-utils) check `instanceof Type`
// against @temporalio/common's own copy of protobufjs; npm gave @temporalio/common and @temporalio/proto
// separate copies here (gRPC's protobufjs 7 holds the root), so both throw "type must be a Type".
// This is the same conversion, done with the protobufjs that built the history types.
const requireFromProto = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
const protoJson = requireFromProto('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

/** A history as the JSON other Temporal tools write and read (`temporal workflow show --output json`). */
export function historyToJson(history: History): string {
  return `${JSON.stringify(protoJson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2)}\n`;
}

/** The inverse of historyToJson; fields a newer server added are ignored, as the SDK does. */
export function historyFromJson(text: string): History {
  return protoJson.fromJson(historyType, JSON.parse(text), { ignoreUnknownFields: true });
}
