#!/usr/bin/env bash
# Packs bench/gpu.ts for a GPU machine without Node or network (the README's "GPU benchmark"):
# .gpu/bench-gpu.mjs (one ESM bundle), Dawn's dawn.node beside it, and this machine's Node, xz-compressed.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
npx esbuild bench/gpu.ts --bundle --platform=node --format=esm --main-fields=module,main --external:'*.node' \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" \
  --outfile=.gpu/bench-gpu.mjs --log-level=warning
mkdir -p .gpu/dist/linux-x64
cp node_modules/webgpu/dist/linux-x64/dawn.node .gpu/dist/linux-x64/
[ -f .gpu/node.xz ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
du -sh .gpu
