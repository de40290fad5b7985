import type { TensorInfo } from '@tensorflow/tfjs-core';
import { sizeOf } from '../../core/stage.js';
import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  BIAS_ACTIVATION,
  BIAS_ACTIVATION_GRAD,
  type Activation,
  type BiasActivationAttrs,
  BINARY_CROSS_ENTROPY,
  BINARY_CROSS_ENTROPY_GRAD,
  type BatchNormTrainAttrs,
  type BinaryCrossEntropyAttrs,
  GAUSSIAN_KL,
  GAUSSIAN_KL_GRAD,
  REPARAMETERIZE,
  REPARAMETERIZE_GRAD,
  SIGMOID_CROSS_ENTROPY,
  SIGMOID_CROSS_ENTROPY_GRAD,
} from './fused-ops.js';
import { type KernelArgs, Kernels } from './kernel-util.js';
import { ChannelReduceProgram, MapProgram, type ReducePass, type WebGPUBackend } from './webgpu-program.js';

/**
 * The fused kernels of fused-ops.ts as WGSL: each a few dispatches of
 * MapProgram (element-wise) and ChannelReduceProgram (fixed-order sums), so
 * one engine call instead of tens. Reshapes of a [..., C] tensor to [M, C]
 * share its buffer.
 */

type Uniform = { type: 'int32' | 'float32'; data: number[] };
const f32 = (...data: number[]): Uniform => ({ type: 'float32', data });
const i32 = (...data: number[]): Uniform => ({ type: 'int32', data });

/** Runs f with the backend's kernels for intermediates, freed when it returns, and the [M, C] view of `t` (channels last). */
function withKernels<T>(backend: WebGPUBackend, t: TensorInfo, f: (k: Kernels, M: number, C: number) => T): T {
  const C = t.shape[t.shape.length - 1]!;
  const k = new Kernels(backend as never, 'webgpu');
  try {
    return f(k, sizeOf(t.shape) / C, C);
  } finally {
    k.dispose();
  }
}

/** x̂, the pre-activation and the activation's slope at it, for element k of channel c; stats rows: mean, variance, γ, β. */
const BN_LETS = `
  let inv = inverseSqrt(stats[uniforms.C + c] + uniforms.epsilon);
  let gamma = stats[2 * uniforms.C + c];
  let xh = (x[k] - stats[c]) * inv;
  let pre = xh * gamma + stats[3 * uniforms.C + c];
  let slope = select(uniforms.alpha, 1.0, pre > 0.0);`;

function batchNormTrain(args: KernelArgs): TensorInfo[] {
  const { x, gamma, beta, movingMean, movingVariance } = args.inputs as Record<string, TensorInfo>;
  const { epsilon, momentum, alpha } = args.attrs as unknown as BatchNormTrainAttrs;
  const backend = args.backend as WebGPUBackend;
  return withKernels(backend, x!, (k, M, C) => {
    const flat = k.reshape(x!, [M, C]);
    const moments: ReducePass[] = [
      { body: 'let v = x[k];', name: 'mean', finish: 'sum / f32(uniforms.M)' },
      { body: 'let d = x[k] - mean; let v = d * d;', name: 'variance', finish: 'sum / f32(uniforms.M)' },
    ];
    // γ and β ride along with the moments: the backward pass saves one [4, C] tensor instead of three.
    const stats = backend.runWebGPUProgram(new ChannelReduceProgram('pipeBnMoments', ['x', 'gamma', 'beta'], C, moments, '', '', ['gamma[c]', 'beta[c]']), [flat, gamma!, beta!], 'float32', [i32(M), i32(C)]);
    const y = k.own(
      backend.runWebGPUProgram(
        new MapProgram('pipeBnForward', ['x', 'stats'], [M, C], 'pre * slope', `let c = i % uniforms.C; let k = i; ${BN_LETS}`, 'C : i32, epsilon : f32, alpha : f32,'),
        [flat, stats],
        'float32',
        [i32(C), f32(epsilon), f32(alpha)],
      ),
    );
    // As tfjs-layers: moving ← moving − (moving − batch)·(1 − momentum).
    const moving = (m: TensorInfo, row: number) =>
      backend.runWebGPUProgram(new MapProgram('pipeBnMoving', ['m', 'stats'], [C], 'm[i] - (m[i] - stats[uniforms.row * uniforms.C + i]) * uniforms.rate', '', 'C : i32, row : i32, rate : f32,'), [m, stats], 'float32', [i32(C), i32(row), f32(1 - momentum)]);
    return [k.run('Reshape', { x: y }, { shape: x!.shape }, true), stats, moving(movingMean!, 0), moving(movingVariance!, 1)];
  });
}

function batchNormTrainGrad(args: KernelArgs): TensorInfo[] {
  const { dy, x, stats } = args.inputs as Record<string, TensorInfo>;
  const { epsilon, alpha } = args.attrs as unknown as BatchNormTrainAttrs;
  const backend = args.backend as WebGPUBackend;
  return withKernels(backend, x!, (k, M, C) => {
    const [fx, fdy] = [k.reshape(x!, [M, C]), k.reshape(dy!, [M, C])];
    const uniforms = 'epsilon : f32, alpha : f32,';
    // Σg and Σg·x̂ per channel, g = dy · act'(pre): the gradients of β and γ.
    const sums = k.own(
      backend.runWebGPUProgram(
        new ChannelReduceProgram('pipeBnGradSums', ['x', 'dy', 'stats'], C, [
          { body: 'let v = dy[k] * slope;', name: 'dbeta', finish: 'sum' },
          { body: 'let v = dy[k] * slope * xh;', name: 'dgamma', finish: 'sum' },
        ], BN_LETS, uniforms),
        [fx, fdy, stats!],
        'float32',
        [i32(M), i32(C), f32(epsilon), f32(alpha)],
      ),
    );
    const dx = k.own(
      backend.runWebGPUProgram(
        new MapProgram(
          'pipeBnGradX',
          ['x', 'dy', 'stats', 'sums'],
          [M, C],
          '(dy[i] * slope - sums[c] / f32(uniforms.M) - xh * (sums[uniforms.C + c] / f32(uniforms.M))) * (gamma * inv)',
          `let c = i % uniforms.C; let k = i; ${BN_LETS}`,
          `M : i32, C : i32, ${uniforms}`,
        ),
        [fx, fdy, stats!, sums],
        'float32',
        [i32(M), i32(C), f32(epsilon), f32(alpha)],
      ),
    );
    const row = (r: number) => k.run('Reshape', { x: k.slice(sums, [r, 0], [1, C]) }, { shape: [C] }, true);
    return [k.run('Reshape', { x: dx }, { shape: x!.shape }, true), row(1), row(0)];
  });
}

/** Each activation of its pre-activation p, and its derivative from its output y (tfjs' tanh form: WGSL's overflows to NaN on some GPUs). */
const ACTIVATIONS: Record<Activation, { forward: string; slope: string }> = {
  linear: { forward: 'p', slope: '1.0' },
  relu: { forward: 'max(p, 0.0)', slope: 'select(0.0, 1.0, y > 0.0)' },
  leakyrelu: { forward: 'select(p * uniforms.alpha, p, p > 0.0)', slope: 'select(uniforms.alpha, 1.0, y > 0.0)' },
  sigmoid: { forward: '1.0 / (1.0 + exp(-p))', slope: 'y * (1.0 - y)' },
  tanh: { forward: 'sign(p) * (1.0 - exp(-2.0 * abs(p))) / (1.0 + exp(-2.0 * abs(p)))', slope: '1.0 - y * y' },
};

function biasActivation(args: KernelArgs): TensorInfo {
  const { x, bias } = args.inputs as Record<string, TensorInfo>;
  const { activation, alpha } = args.attrs as unknown as BiasActivationAttrs;
  const C = bias!.shape[0]!;
  return elementwise(args.backend as WebGPUBackend, `pipeBiasAct_${activation}`, ['x', 'bias'], [x!, bias!], x!, ACTIVATIONS[activation].forward, `let p = x[i] + bias[i % uniforms.C];`, 'C : i32, alpha : f32,', [i32(C), f32(alpha)]);
}

function biasActivationGrad(args: KernelArgs): TensorInfo[] {
  const { dy, y } = args.inputs as Record<string, TensorInfo>;
  const { activation, alpha } = args.attrs as unknown as BiasActivationAttrs;
  const backend = args.backend as WebGPUBackend;
  return withKernels(backend, y!, (k, M, C) => {
    // A linear activation passes dy on: the same buffer, no program.
    const dx =
      activation === 'linear'
        ? k.run('Identity', { x: dy! }, {}, true)
        : elementwise(backend, `pipeBiasActGrad_${activation}`, ['dy', 'outputs'], [dy!, y!], dy!, `dy[i] * (${ACTIVATIONS[activation].slope})`, 'let y = outputs[i];', 'alpha : f32,', [f32(alpha)]);
    const sum = k.own(backend.runWebGPUProgram(new ChannelReduceProgram('pipeBiasGrad', ['dx'], C, [{ body: 'let v = dx[k];', name: 'dbias', finish: 'sum' }]), [k.reshape(dx, [M, C])], 'float32', [i32(M), i32(C)]));
    return [dx, k.run('Reshape', { x: sum }, { shape: [C] }, true)];
  });
}

/** A scalar: the sum over all elements of `body`'s v, times uniforms.scale. */
function total(backend: WebGPUBackend, key: string, names: string[], inputs: TensorInfo[], body: string, uniforms: string, data: Uniform[]): TensorInfo {
  return withKernels(backend, inputs[0]!, (k) => {
    const n = sizeOf(inputs[0]!.shape);
    const flat = inputs.map((t) => k.reshape(t, [n, 1]));
    const sum = k.own(backend.runWebGPUProgram(new ChannelReduceProgram(key, names, 1, [{ body, name: 'total', finish: 'sum * uniforms.scale' }], '', `scale : f32, ${uniforms}`), flat, 'float32', [i32(n), i32(1), ...data]));
    return k.run('Reshape', { x: sum }, { shape: [] }, true);
  });
}

/** An element-wise result of the shape of `like`. Every input named must appear in `expr`: WebGPU drops unused bindings from the layout. */
function elementwise(backend: WebGPUBackend, key: string, names: string[], inputs: TensorInfo[], like: TensorInfo, expr: string, lets: string, uniforms: string, data: Uniform[]): TensorInfo {
  return backend.runWebGPUProgram(new MapProgram(key, names, [...like.shape], expr, lets, uniforms), inputs, 'float32', data);
}

function sigmoidCrossEntropy(args: KernelArgs): TensorInfo {
  const { logits } = args.inputs as Record<string, TensorInfo>;
  const { label } = args.attrs as { label: number };
  // tfjs' form: max(x, 0) − x·z + log(1 + e^−|x|), averaged.
  return total(args.backend as WebGPUBackend, 'pipeSigmoidXent', ['logits'], [logits!], 'let x = logits[k]; let v = max(x, 0.0) - x * uniforms.label + log(1.0 + exp(-abs(x)));', 'label : f32,', [f32(1 / sizeOf(logits!.shape)), f32(label)]);
}

function sigmoidCrossEntropyGrad(args: KernelArgs): TensorInfo {
  const { dy, logits } = args.inputs as Record<string, TensorInfo>;
  const { label } = args.attrs as { label: number };
  return elementwise(args.backend as WebGPUBackend, 'pipeSigmoidXentGrad', ['dy', 'logits'], [dy!, logits!], logits!, '(1.0 / (1.0 + exp(-logits[i])) - uniforms.label) * dy[0] * uniforms.scale', '', 'label : f32, scale : f32,', [f32(label), f32(1 / sizeOf(logits!.shape))]);
}

const BCE_UNIFORMS = 'lo : f32, hi : f32,';

function binaryCrossEntropy(args: KernelArgs): TensorInfo {
  const { t, p } = args.inputs as Record<string, TensorInfo>;
  const { lo, hi, scale } = args.attrs as unknown as BinaryCrossEntropyAttrs;
  return total(args.backend as WebGPUBackend, 'pipeBce', ['t', 'p'], [t!, p!], 'let q = clamp(p[k], uniforms.lo, uniforms.hi); let y = f32(t[k]); let v = -(y * log(q) + (1.0 - y) * log(1.0 - q));', BCE_UNIFORMS, [f32(scale), f32(lo), f32(hi)]);
}

function binaryCrossEntropyGrad(args: KernelArgs): TensorInfo {
  const { dy, t, p } = args.inputs as Record<string, TensorInfo>;
  const { lo, hi, scale, of } = args.attrs as unknown as BinaryCrossEntropyAttrs & { of: 't' | 'p' };
  // The clip passes gradient only inside [lo, hi], as tfjs' clipByValue does.
  const expr =
    of === 'p'
      ? 'select(0.0, -(y / q - (1.0 - y) / (1.0 - q)), p[i] >= uniforms.lo && p[i] <= uniforms.hi) * dy[0] * uniforms.scale'
      : '-(log(q) - log(1.0 - q)) * dy[0] * uniforms.scale';
  // t is read only for p's gradient (t's own does not depend on it).
  const [names, inputs, lets] = of === 'p' ? [['dy', 't', 'p'], [dy!, t!, p!], 'let y = f32(t[i]);'] : [['dy', 'p'], [dy!, p!], ''];
  return elementwise(args.backend as WebGPUBackend, `pipeBceGrad_${of}`, names, inputs, p!, expr, `let q = clamp(p[i], uniforms.lo, uniforms.hi); ${lets}`, `scale : f32, ${BCE_UNIFORMS}`, [f32(scale), f32(lo), f32(hi)]);
}

function gaussianKl(args: KernelArgs): TensorInfo {
  const { mu, logvar } = args.inputs as Record<string, TensorInfo>;
  const { scale } = args.attrs as { scale: number };
  return total(args.backend as WebGPUBackend, 'pipeKl', ['mu', 'logvar'], [mu!, logvar!], 'let v = 1.0 + logvar[k] - (mu[k] * mu[k] + exp(logvar[k]));', '', [f32(scale)]);
}

function gaussianKlGrad(args: KernelArgs): TensorInfo {
  const { dy, mu, logvar } = args.inputs as Record<string, TensorInfo>;
  const { scale, of } = args.attrs as { scale: number; of: 'mu' | 'logvar' };
  // d/dμ of scale·(1 + l − μ² − eᶩ) is −2μ·scale; d/dl is (1 − eᶩ)·scale.
  const expr = of === 'mu' ? '-2.0 * mu[i] * uniforms.scale * dy[0]' : '(1.0 - exp(logvar[i])) * uniforms.scale * dy[0]';
  return elementwise(args.backend as WebGPUBackend, `pipeKlGrad_${of}`, ['dy', of], [dy!, of === 'mu' ? mu! : logvar!], mu!, expr, '', 'scale : f32,', [f32(scale)]);
}

function reparameterize(args: KernelArgs): TensorInfo {
  const { mu, logvar, eps } = args.inputs as Record<string, TensorInfo>;
  return elementwise(args.backend as WebGPUBackend, 'pipeReparam', ['mu', 'logvar', 'eps'], [mu!, logvar!, eps!], mu!, 'mu[i] + exp(logvar[i] * 0.5) * eps[i]', '', '', []);
}

function reparameterizeGrad(args: KernelArgs): TensorInfo {
  const { dz, logvar, eps } = args.inputs as Record<string, TensorInfo>;
  const { of } = args.attrs as { of: 'logvar' | 'eps' };
  const expr = of === 'logvar' ? 'dz[i] * eps[i] * 0.5 * exp(logvar[i] * 0.5)' : 'dz[i] * exp(logvar[i] * 0.5)';
  return elementwise(args.backend as WebGPUBackend, `pipeReparamGrad_${of}`, of === 'logvar' ? ['dz', 'logvar', 'eps'] : ['dz', 'logvar'], of === 'logvar' ? [dz!, logvar!, eps!] : [dz!, logvar!], logvar!, expr, '', '', []);
}

export const WEBGPU_FUSED: Record<string, (args: KernelArgs) => TensorInfo | TensorInfo[]> = {
  [BATCH_NORM_TRAIN]: batchNormTrain,
  [BATCH_NORM_TRAIN_GRAD]: batchNormTrainGrad,
  [BIAS_ACTIVATION]: biasActivation,
  [BIAS_ACTIVATION_GRAD]: biasActivationGrad,
  [SIGMOID_CROSS_ENTROPY]: sigmoidCrossEntropy,
  [SIGMOID_CROSS_ENTROPY_GRAD]: sigmoidCrossEntropyGrad,
  [BINARY_CROSS_ENTROPY]: binaryCrossEntropy,
  [BINARY_CROSS_ENTROPY_GRAD]: binaryCrossEntropyGrad,
  [GAUSSIAN_KL]: gaussianKl,
  [GAUSSIAN_KL_GRAD]: gaussianKlGrad,
  [REPARAMETERIZE]: reparameterize,
  [REPARAMETERIZE_GRAD]: reparameterizeGrad,
};
