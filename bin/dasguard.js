#!/usr/bin/env node
// The published entry point: runs the compiled CLI (npm install runs the build through "prepare").
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
