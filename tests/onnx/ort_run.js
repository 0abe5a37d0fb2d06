// Runs ONNX models in ONNX Runtime (the npm package onnxruntime-node, installed by
// scripts/setup.sh into build/ort) on .npy inputs and writes each output as .npy: the
// second runtime that checks `starc export` (tests/unit/onnx_export_test.cpp, docs/onnx.md).
//
//   node tests/onnx/ort_run.js JOBS.txt
//   node tests/onnx/ort_run.js MODEL.onnx NAME=IN.npy ... -- NAME=OUT.npy ...
//
// JOBS.txt has one job per line in the second form's words (MODEL.onnx NAME=IN.npy ...
// -- NAME=OUT.npy ...), so many models run in one process. The package is found through
// NODE_PATH, or in build/ort/node_modules beside this script's repository. Exits 1 with
// the job's model and the error on the first failure.
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    const local = path.join(__dirname, '..', '..', 'build', 'ort', 'node_modules', 'onnxruntime-node');
    return require(local);
  }
}

// .npy (format 1.0-3.0, little-endian, C order) <-> ONNX Runtime tensors.
const kNpyTypes = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<i8': ['int64', BigInt64Array],
  '|b1': ['bool', Uint8Array], '<i4': ['int32', Int32Array],
};

function readNpy(ort, file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim()).map(Number);
  const kind = kNpyTypes[descr];
  if (!kind) throw new Error(`${file}: element type ${descr} is not supported`);
  const [type, Arr] = kind;
  const body = buf.subarray(start + hlen);
  const count = dims.reduce((a, b) => a * b, 1);
  const copy = new Uint8Array(count * Arr.BYTES_PER_ELEMENT);  // aligned
  copy.set(body.subarray(0, copy.length));
  const data = new Arr(copy.buffer);
  return new ort.Tensor(type, type === 'bool' ? Uint8Array.from(data) : data, dims);
}

function writeNpy(file, tensor) {
  const descr = {float32: '<f4', float64: '<f8', int64: '<i8', bool: '|b1', int32: '<i4'}[tensor.type];
  if (!descr) throw new Error(`${file}: output type ${tensor.type} is not supported`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), bytes]));
}

function parseJob(words) {
  const sep = words.indexOf('--');
  if (words.length < 1 || sep < 0) throw new Error(`bad job '${words.join(' ')}': MODEL.onnx NAME=IN.npy ... -- NAME=OUT.npy ...`);
  const pairs = (list) => list.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`bad argument '${w}': expected NAME=FILE.npy`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
  return {model: words[0], inputs: pairs(words.slice(1, sep)), outputs: pairs(words.slice(sep + 1))};
}

async function runJob(ort, job) {
  const session = await ort.InferenceSession.create(job.model);
  const feeds = {};
  for (const [name, file] of job.inputs) feeds[name] = readNpy(ort, file);
  const results = await session.run(feeds);
  for (const [name, file] of job.outputs) {
    if (!(name in results)) throw new Error(`no output '${name}' (outputs: ${Object.keys(results).join(', ')})`);
    writeNpy(file, results[name]);
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length === 0) throw new Error('usage: ort_run.js JOBS.txt | MODEL.onnx NAME=IN.npy ... -- NAME=OUT.npy ...');
  const ort = loadOrt();
  const jobs = args.length === 1 && !args[0].endsWith('.onnx')
    ? fs.readFileSync(args[0], 'utf8').split('\n').filter((l) => l.trim()).map((l) => parseJob(l.trim().split(/\s+/)))
    : [parseJob(args)];
  for (const job of jobs) {
    try {
      await runJob(ort, job);
    } catch (e) {
      throw new Error(`${job.model}: ${e.message}`);
    }
  }
}

main().catch((e) => {
  console.error(`ort_run: ${e.message}`);
  process.exit(1);
});
