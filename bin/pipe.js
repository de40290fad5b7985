#!/usr/bin/env node
import '../dist/src/core/cli.js';
