#!/usr/bin/env node
// node-gyp's side of the CUDA backend (binding.gyp runs this; CMake builds the
// same files itself). Subcommands, run from native/:
//   detect          prints 1 when nvcc is usable (and RWKVX_CUDA is not 0), else 0
//   sources         the .cu files and their headers (the action's inputs)
//   libdir          the folder holding libcudart_static.a
//   build OUTDIR    compiles every .cu (two at a time) and archives OUTDIR/librwkvx_cuda.a
// Architectures: sm_80 and sm_90 machine code plus compute_90 PTX, or
// RWKVX_CUDA_ARCHS="80 90" style overrides (numbers; PTX of the last is kept).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const here = __dirname;
const native = path.join(here, '..', '..');

function nvcc() {
  for (const c of [process.env.NVCC, 'nvcc', '/usr/local/cuda/bin/nvcc']) {
    if (!c) continue;
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  return null;
}

function cudaRoot(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  // nvcc may be a wrapper script: ask the shell where the real one lives
  const real = spawnSync('sh', ['-c', `readlink -f "$(command -v ${bin})"`], { encoding: 'utf8' }).stdout.trim();
  for (const d of [process.env.CUDA_HOME, real && path.dirname(path.dirname(real)), '/usr/local/cuda']) {
    if (d && fs.existsSync(path.join(d, 'lib64', 'libcudart_static.a'))) return d;
    if (d && fs.existsSync(path.join(d, 'lib', 'libcudart_static.a'))) return d;
  }
  if (r.status !== 0) return null;
  const m = spawnSync('sh', ['-c', `grep -l '' /usr/local/cuda-*/lib64/libcudart_static.a 2>/dev/null | head -1`], { encoding: 'utf8' }).stdout.trim();
  return m ? path.dirname(path.dirname(m)) : null;
}

function cuFiles() {
  return fs.readdirSync(here).filter((f) => f.endsWith('.cu')).sort().map((f) => path.join(here, f));
}

function headers() {
  const own = fs.readdirSync(here).filter((f) => /\.(cuh|h)$/.test(f)).map((f) => path.join(here, f));
  const engine = ['error.h', 'tensor.h', 'quant.h', 'executor.h', 'model.h', 'ops.h', 'kernels.h'].map((f) => path.join(native, 'src', f));
  return own.concat(engine.filter((f) => fs.existsSync(f)));
}

function archFlags() {
  const list = (process.env.RWKVX_CUDA_ARCHS || '80 90').split(/[\s,;]+/).map((s) => s.replace(/-real|-virtual/, '')).filter(Boolean);
  const flags = list.map((a) => `-gencode=arch=compute_${a},code=sm_${a}`);
  const last = list[list.length - 1];
  flags.push(`-gencode=arch=compute_${last},code=compute_${last}`);
  return flags;
}

function newest(files) {
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

async function build(outdir) {
  const bin = nvcc();
  if (!bin) throw new Error('nvcc not found');
  fs.mkdirSync(outdir, { recursive: true });
  const hdrTime = newest(headers());
  const jobs = cuFiles().map((src) => {
    const obj = path.join(outdir, path.basename(src, '.cu') + '.o');
    const fresh = fs.existsSync(obj) && fs.statSync(obj).mtimeMs > Math.max(hdrTime, fs.statSync(src).mtimeMs);
    return { src, obj, fresh };
  });
  const args = (j) => ['-std=c++17', '-O3', '--expt-relaxed-constexpr', '-Xcompiler', '-fPIC', '-DRWKVX_CUDA=1',
    '-I', path.join(native, 'src'), '-I', path.join(native, 'include'), ...archFlags(), '-c', j.src, '-o', j.obj];
  const queue = jobs.filter((j) => !j.fresh);
  const parallel = Math.max(1, Math.min(2, require('os').cpus().length));
  let failed = null;
  async function worker() {
    while (queue.length && !failed) {
      const j = queue.shift();
      process.stdout.write(`  NVCC ${path.basename(j.src)}\n`);
      const code = await new Promise((res) => spawn(bin, args(j), { stdio: 'inherit' }).on('close', res));
      if (code !== 0) failed = j.src;
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  if (failed) throw new Error(`nvcc failed on ${failed}`);
  const lib = path.join(outdir, 'librwkvx_cuda.a');
  fs.rmSync(lib, { force: true });
  const ar = spawnSync('ar', ['rcs', lib, ...jobs.map((j) => j.obj)], { stdio: 'inherit' });
  if (ar.status !== 0) throw new Error('ar failed');
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'detect') {
  process.stdout.write(process.env.RWKVX_CUDA === '0' || !nvcc() || !cudaRoot(nvcc()) ? '0' : '1');
} else if (cmd === 'sources') {
  process.stdout.write(cuFiles().concat(headers()).map((f) => path.relative(native, f)).join('\n'));
} else if (cmd === 'libdir') {
  const root = cudaRoot(nvcc() || 'nvcc') || '/usr/local/cuda';
  process.stdout.write(fs.existsSync(path.join(root, 'lib64')) ? path.join(root, 'lib64') : path.join(root, 'lib'));
} else if (cmd === 'build') {
  build(path.resolve(arg)).catch((e) => {
    process.stderr.write(`gyp_build.js: ${e.message}\n`);
    process.exit(1);
  });
} else {
  process.stderr.write('usage: gyp_build.js detect|sources|libdir|build OUTDIR\n');
  process.exit(2);
}
