// talc instead of the default dlmalloc: the same job in less code (the README's
// performance section has the measurement); wee_alloc is unmaintained.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    appointments_spa::start();
}
