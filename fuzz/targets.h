// libFuzzer targets for the readers that take untrusted bytes (issue 9): safetensors
// checkpoints and train states, config JSON with `--set key=value` overrides, the MNIST cache.
// A target accepts any bytes. A reader either succeeds or throws difflab::Error with a message;
// anything else (another exception type, an empty message, a broken round trip, a crash or a
// sanitizer report) is a finding. The same functions run under libFuzzer
// (fuzz/libfuzzer_main.cpp, clang with DIFFLAB_FUZZ=ON) and in the default test suite
// (fuzz/replay_main.cpp replays fuzz/corpus/<name>/ and fuzz/regressions/<name>/).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace difflab::fuzz {

// The bytes of a .safetensors file: decode_safetensors; when that succeeds, the encode/decode
// round trip, load_module into a tiny module (strict and not), load_train_state and
// restore_train_state with each optimizer type.
int fuzz_safetensors(const uint8_t* data, size_t size);
// The bytes up to the first NUL are a config file (Config::load_file on ddpm_config()); each
// NUL-separated piece after it is one `--set` assignment. Whatever was accepted must load back
// unchanged from Config::resolved().
int fuzz_config(const uint8_t* data, size_t size);
// The bytes of data/mnist.bin: decode_mnist_cache; when that succeeds, load_mnist on a file.
int fuzz_mnist(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // the folder under fuzz/corpus/ and fuzz/regressions/
  int (*run)(const uint8_t* data, size_t size);
};
std::span<const Target> targets();

}  // namespace difflab::fuzz
