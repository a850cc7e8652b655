import { MemoryStore } from '../store/memory.js';
import { storeSuite } from './helpers/store-suite.js';

storeSuite('memory', () => new MemoryStore());
