// ONNX Runtime's forward pass on an ONNX model (as `starc export` writes it), timed the
// way bench/run times starc and PyTorch: bench/run's second peer (bench/README.md).
//
//   node bench/ort_bench.js MODEL.onnx --input NAME --threads N [--budget S]
//        [--case KEY:BATCH:MIN_REPS ...] [--shape D1,D2,...] [--opt disabled|basic|extended|all]
//
// For each case: one float32 input of shape [BATCH, ...shape] (standard normal from a
// fixed seed: speed only), warm-up runs, then repetitions of session.run, at least
// MIN_REPS and more for a fast call, filling about S seconds (at most 5000, as bench/run);
// the median of their wall times. Prints one JSON object: {"ort": version, KEY: median
// seconds, ...}. Session: intraOpNumThreads N, interOpNumThreads 1, sequential execution,
// graph optimisations --opt (default all, as bench/run), CPU execution provider. Each timed call is an awaited
// session.run from node, so it includes the binding's call overhead (the ORT analogue of
// PyTorch's Python call): about 15 us (a one-Relu model), which matters only for the
// photo-z MLP.
// The package is found through NODE_PATH, or in build/ort/node_modules of this repository.
'use strict';
const path = require('path');

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    return require(path.join(__dirname, '..', 'build', 'ort', 'node_modules', 'onnxruntime-node'));
  }
}

function ortVersion() {
  for (const p of ['onnxruntime-node/package.json',
    path.join(__dirname, '..', 'build', 'ort', 'node_modules', 'onnxruntime-node', 'package.json')]) {
    try {
      return require(p).version;
    } catch (e) { /* next */ }
  }
  return 'unknown';
}

function parseArgs(argv) {
  const a = {model: null, input: null, threads: 1, budget: 1.0, cases: [], shape: [], opt: 'all'};
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${w} needs a value`);
      return argv[++i];
    };
    if (w === '--input') a.input = next();
    else if (w === '--threads') a.threads = Number(next());
    else if (w === '--budget') a.budget = Number(next());
    else if (w === '--opt') a.opt = next();
    else if (w === '--shape') a.shape = next().split(',').filter((s) => s).map(Number);
    else if (w === '--case') {
      const [key, batch, reps] = next().split(':');
      a.cases.push({key, batch: Number(batch), minReps: Number(reps || 5)});
    } else if (!a.model && !w.startsWith('--')) a.model = w;
    else throw new Error(`unknown argument '${w}'`);
  }
  if (!a.model || !a.input || a.cases.length === 0) {
    throw new Error('usage: ort_bench.js MODEL.onnx --input NAME --threads N [--budget S] --case KEY:BATCH:MIN_REPS ... --shape D1,D2');
  }
  return a;
}

// Standard normal numbers from a fixed seed (xorshift32 and Box-Muller): the values do not
// matter for speed, only that they are finite and not all zero.
function normal(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

function median(xs) {
  const s = xs.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: a.opt,
    executionProviders: ['cpu'],
  });
  const result = {ort: ortVersion()};
  for (const c of a.cases) {
    const dims = [c.batch, ...a.shape];
    const feeds = {[a.input]: new ort.Tensor('float32', normal(dims.reduce((x, y) => x * y, 1), 1234), dims)};
    // warm-up: the first run allocates and plans; a few more settle the thread pool
    let t0 = now();
    await session.run(feeds);
    let one = now() - t0;
    for (let i = 0; i < 3 && one < a.budget / 10; i++) {
      t0 = now();
      await session.run(feeds);
      one = now() - t0;
    }
    const reps = Math.floor(Math.min(5000, Math.max(c.minReps, a.budget / Math.max(one, 1e-6))));
    const times = [];
    for (let i = 0; i < reps; i++) {
      t0 = now();
      await session.run(feeds);
      times.push(now() - t0);
    }
    result[c.key] = median(times);
    result[`${c.key}_reps`] = reps;
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(1);
});
