// Named random streams: each stream a run uses is a Philox generator keyed by the run's seed and
// the stream's name, so streams are independent and none depends on how many draws another made.
#pragma once
#include <cstdint>
#include <string_view>

#include "tensor/random.h"

namespace difflab::tensor {

// The key of stream `name` of a run seeded `run_seed`: the FNV-1a 64-bit hash of the name
// (fixed across compilers and runs, unlike std::hash) mixed with the seed by SplitMix64's
// finaliser.
uint64_t stream_seed(uint64_t run_seed, std::string_view name);

// A fresh generator (offset 0) on that key.
inline Generator named_stream(uint64_t run_seed, std::string_view name) {
  return Generator(stream_seed(run_seed, name));
}

}  // namespace difflab::tensor
