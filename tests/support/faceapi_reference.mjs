// Reference outputs of face-api's FaceExpressionNet, computed by the package's own code on the tfjs
// 'cpu' backend, for tests/models/face_expression_net_test.cpp.
//
//   node faceapi_reference.mjs <face-api package dir> <faces.f32> <count>
//
// faces.f32 holds <count> faces as raw little-endian float32, each 112x112x3 (HWC, RGB, 0..255): the
// exact tensor the C++ side feeds its converted network, so both sides see identical input. Prints one
// line per face: the 7 probabilities in face-api's order (neutral happy sad angry fearful disgusted
// surprised), then the 7 logits, space-separated.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [pkg, facesPath, countArg] = process.argv.slice(2);
if (!pkg || !facesPath || !countArg) {
  console.error('usage: node faceapi_reference.mjs <package dir> <faces.f32> <count>');
  process.exit(2);
}

// The ESM bundle carries tfjs 4.22 with its cpu backend. Its Node platform shim needs util.TextEncoder,
// which the browser-targeted bundle stubs out, so let tfjs take its browser platform instead (Node 20
// has TextEncoder and fetch as globals). Nothing below touches the DOM: inputs are tensors.
globalThis.window = globalThis;
globalThis.document = {};
const faceapi = await import(join(pkg, 'dist', 'face-api.esm.js'));
const { tf } = faceapi;
await tf.setBackend('cpu');
await tf.ready();

// Weights through tfjs's own loader (tf.io.decodeWeights dequantises uint8 as q*scale+min), then the
// package's loadFromWeightMap, as NeuralNetwork.loadFromDisk does.
const manifest = JSON.parse(readFileSync(join(pkg, 'model', 'face_expression_model-weights_manifest.json'), 'utf8'));
const specs = manifest.flatMap((group) => group.weights);
const buffers = manifest.flatMap((group) => group.paths.map((p) => readFileSync(join(pkg, 'model', p))));
const bytes = Buffer.concat(buffers);
const weightMap = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), specs);
const net = new faceapi.FaceExpressionNet();
net.loadFromWeightMap(weightMap);

const count = Number(countArg);
const raw = readFileSync(facesPath);
const side = 112;
const per = side * side * 3;
if (raw.length !== count * per * 4) {
  console.error(`faces.f32 has ${raw.length} bytes, expected ${count} x ${per} float32`);
  process.exit(2);
}
const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
for (let i = 0; i < count; i += 1) {
  const face = tf.tensor3d(all.subarray(i * per, (i + 1) * per), [side, side, 3], 'float32');
  // forward() goes through toNetInput -> toBatchTensor(112) (no resize: the face is already 112x112)
  // -> mean-RGB normalisation -> dense blocks -> FC -> softmax, i.e. what predictExpressions runs.
  const probs = await net.forward(face);
  const input = await faceapi.toNetInput(face);
  const logits = net.runNet(input);
  const p = Array.from(probs.dataSync());
  const l = Array.from(logits.dataSync());
  console.log('probs_logits', [...p, ...l].map((v) => v.toPrecision(9)).join(' '));
  tf.dispose([face, probs, logits]);
}
