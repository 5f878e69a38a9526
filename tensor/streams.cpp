#include "tensor/streams.h"

namespace difflab::tensor {

uint64_t stream_seed(uint64_t run_seed, std::string_view name) {
  uint64_t h =
      0xcbf29ce484222325ull;  // FNV-1a 64: offset basis, then xor and multiply by the prime
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  uint64_t z = run_seed ^ h;  // SplitMix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace difflab::tensor
