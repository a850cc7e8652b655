// placeholder, replaced by the Argon2id WASM generator
