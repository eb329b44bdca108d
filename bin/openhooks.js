#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader: no build step between a change and a run.
import { register } from 'tsx/esm/api';

// openhooks is always the built, production software (the portal is a production build): without
// this, a plain `npm start` would render pages with React's development build, slower and printing
// its warnings as lines that are not JSON. An explicit NODE_ENV still wins.
process.env.NODE_ENV ??= 'production';
register();
await import('../cli/main.ts');
