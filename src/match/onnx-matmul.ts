// A one-node ONNX model, written out in protobuf by hand: MatMulInteger of a uint8
// query [1,D] with an int8 gallery [D,N], giving int32 scores [1,N].
// onnxruntime's u8s8 integer GEMM is the fastest exact-integer kernel it has on both
// x86 (AVX2/VNNI) and ARM (NEON/dot), so the 1:N scan runs there instead of in JS.
// Field numbers are from onnx.proto (ModelProto, GraphProto, NodeProto, ValueInfoProto,
// TypeProto.Tensor, TensorShapeProto).

const varint = (n: number): number[] => {
  const b: number[] = [];
  while (n > 127) {
    b.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  b.push(n);
  return b;
};
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const int = (field: number, n: number) => [...tag(field, 0), ...varint(n)];
const msg = (field: number, body: number[]) => [...tag(field, 2), ...varint(body.length), ...body];
const str = (field: number, s: string) => msg(field, [...Buffer.from(s, 'utf8')]);

const ELEM = { uint8: 2, int8: 3, int32: 6 } as const;

function valueInfo(name: string, elem: keyof typeof ELEM, dims: (number | string)[]): number[] {
  const dimMsgs = dims.flatMap((d) => msg(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  const tensorType = [...int(1, ELEM[elem]), ...msg(2, dimMsgs)];
  return [...str(1, name), ...msg(2, msg(1, tensorType))];
}

export function matMulIntegerModel(dim: number): Uint8Array {
  const node = [...str(1, 'Q'), ...str(1, 'G'), ...str(2, 'S'), ...str(4, 'MatMulInteger')];
  const graph = [
    ...msg(1, node),
    ...str(2, 'gallery_scan'),
    ...msg(11, valueInfo('Q', 'uint8', [1, dim])),
    ...msg(11, valueInfo('G', 'int8', [dim, 'N'])),
    ...msg(12, valueInfo('S', 'int32', [1, 'N'])),
  ];
  // ir_version 8, opset 13 of the default domain
  return new Uint8Array([...int(1, 8), ...msg(8, [...str(1, ''), ...int(2, 13)]), ...msg(7, graph)]);
}
