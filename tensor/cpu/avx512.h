// AVX-512 intrinsics for the hand-written f32 kernels (tensor/cpu/conv3x3.cpp,
// tensor/cpu/winograd.cpp) and the register-block sizes they share. GCC 12's intrinsics fill
// unused lanes from _mm*_undefined_*(), which trips -Wmaybe-uninitialized and -Wuninitialized
// where they are inlined: a file that includes this header has both off from here on.
#pragma once
#include <cstdint>

#if defined(__AVX512F__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#endif

namespace difflab::tensor::cpu::simd {

constexpr int64_t kLanes = 16;  // floats per vector
constexpr int kRows = 8;        // output channels per register block
constexpr int kMaxVecs = 3;     // vectors per register block (kRows x kMaxVecs accumulators)

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
inline int64_t channel_blocks(int64_t c) { return (c + kRows - 1) / kRows; }

}  // namespace difflab::tensor::cpu::simd
