// Helpers shared by the fuzz targets and the seed generator.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "experiments/config.h"
#include "nn/module.h"
#include "tensor/error.h"

namespace difflab::fuzz {

// Stops the process (a finding under libFuzzer, a failed replay) with `what` on stderr.
[[noreturn]] void finding(const std::string& what);
// The expected outcome of bad input: a difflab::Error whose message says something.
void expect_message(const Error& e, const char* reader);

// Writes `bytes` to a file private to this process and target (readers that only take a path
// read it from there); the files are removed at exit.
std::string scratch_file(const char* tag, const uint8_t* data, size_t size);
std::string scratch_file(const char* tag, const std::string& bytes);

// The module the safetensors target loads into: "lin.weight" f32 [2, 3], "lin.bias" f32 [2]
// and an i64 buffer "count" of shape [], with fixed values.
std::shared_ptr<nn::Module> make_tiny_module();

// The keys `difflab train-ddpm` declares: ddpm_config() plus the seed, threads and device that
// resolve_config adds, with their defaults.
experiments::Config ddpm_command_config();

}  // namespace difflab::fuzz
