// The slice of the WebAssembly JS API this project uses. @types/node 20 does not declare it and
// the DOM lib would bring browser globals into a Node-only codebase.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(deltaPages: number): number;
  }
  function compile(bytes: Uint8Array): Promise<Module>;
  function instantiate(module: Module, imports?: object): Promise<Instance>;
  function validate(bytes: Uint8Array): boolean;
}
