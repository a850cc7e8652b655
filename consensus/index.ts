export * from './hex.js';
export * from './messages.js';
export * from './params.js';
export * from './peer.js';
export * from './ring.js';
export * from './tally.js';
export * from './tickets.js';
export * from './validate.js';
