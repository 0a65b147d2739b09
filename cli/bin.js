#!/usr/bin/env node
// The `securechat` command: runs the TypeScript client through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
