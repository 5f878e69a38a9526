// Winograd F(2x2, 3x3) convolution (stride 1, padding 1, one group, f32) on AVX-512: each 2x2
// block of outputs (a tile) comes from the 4x4 block of zero-padded input around it as
// Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so the channel sums take 16 products per tile instead of
// 36, 2.25 times fewer. Tiles are taken a block of tile rows at a time (across images): the
// input transform writes V [16][cin][tiles], 16 products U [16][cout][cin] x V give
// M [16][cout][tiles], and the output transform writes the block's outputs. The transforms are
// vectorised over 16 tiles of a tile row (F(4x4, 3x3) on narrow planes: over 16 tiles anywhere in
// the block, gathered; the weight gradients' image transforms, and F(4x4, 3x3)'s output-gradient
// transform: over 16 channels). The blocks depend on the shapes alone, so the bits do not
// depend on the thread count. Built where the compiler targets AVX-512F, as the direct
// kernels of tensor/cpu/conv3x3.h.
#pragma once
#include <cstdint>

namespace difflab::tensor::cpu {

// The widest plane the kernels take (their tables of 16-tile chunks are fixed); conv2d sends
// wider ones to the other paths.
constexpr int64_t kWinogradMaxWidth = 2048;

// conv2d takes the Winograd path for eligible shapes (when built; on by default). Switched off
// by tests and benchmarks to compare with the direct kernels and im2col + GEMM.
bool winograd_enabled();
void set_winograd_enabled(bool on);

// The sizes of a batch's Winograd convolution from `cin` planes of H x W to `cout` planes.
struct WinogradPlan {
  int64_t images = 0, cin = 0, cout = 0, H = 0, W = 0;
  int64_t tiles_h() const { return (H + 1) / 2; }
  int64_t tiles_w() const { return (W + 1) / 2; }
  int64_t rows() const { return images * tiles_h(); }  // tile rows of the batch
  int64_t block_rows() const;      // tile rows per block, fixed by the channels and W
  int64_t blocks() const;          // ceil(rows() / block_rows())
  int64_t block_tiles() const;     // tiles per full block's matrices, rounded up to 16
  int64_t packed_floats() const;   // the transformed, packed weights
  int64_t scratch_floats() const;  // one thread's scratch for winograd_block
  int64_t grad_tiles() const;      // tiles the weight gradient transforms before their products
  int64_t weight_grad_scratch_floats() const;  // one thread's scratch for winograd_weight_grad
  int64_t grad_sum_floats() const;             // the transformed sum dU
};

// Packs U = G g Gᵀ of w [cout, cin, 3, 3] for winograd_block. With `transposed`, w is
// [cin, cout, 3, 3] of the forward convolution whose input gradient is wanted: it is read as
// [cout, cin] transposed with its taps flipped.
void winograd_pack_weights(const WinogradPlan& plan, const float* w, bool transposed,
                           float* packed);

// The outputs of block `block` of y [images, cout, H, W] (plus bias [cout] when given) from
// x [images, cin, H, W].
void winograd_block(const WinogradPlan& plan, int64_t block, const float* x, const float* packed,
                    const float* bias, float* y, float* scratch);

// The weight gradient in two steps. du [grad_sum_floats()] = dU = Σ (A dY Aᵀ) ⊙ (Bᵀ d B) over the
// tiles of images n0 .. n1 - 1 of x [images, cin, H, W] and dy [images, cout, H, W], in order;
// then, with the parts' dU summed, dw [cout, cin, 3, 3] = Gᵀ dU G.
void winograd_weight_grad(const WinogradPlan& plan, int64_t n0, int64_t n1, const float* x,
                          const float* dy, float* du, float* scratch);
void winograd_weight_grad_finish(const WinogradPlan& plan, const float* du, float* dw);

// ---- F(4x4, 3x3) (tensor/cpu/winograd4.cpp): 4x4 output tiles from 6x6 input blocks, 36
// products per tile (2.25 per output where F(2x2, 3x3) takes 4), with larger transforms and
// more rounding.

// conv2d and both its gradients take F(4x4, 3x3) where it pays (when built; on by default).
bool winograd4_enabled();
void set_winograd4_enabled(bool on);

// The sizes as WinogradPlan's, for tiles of 4 x 4 outputs.
struct Winograd4Plan {
  int64_t images = 0, cin = 0, cout = 0, H = 0, W = 0;
  int64_t tiles_h() const { return (H + 3) / 4; }
  int64_t tiles_w() const { return (W + 3) / 4; }
  int64_t rows() const { return images * tiles_h(); }
  int64_t block_rows() const;
  int64_t blocks() const;
  int64_t block_tiles() const;
  // Whether the transforms take each lane's tile on its own (gathers and scatters) rather than
  // 16 tiles of a tile row: for planes 3 tiles wide or narrower, whose rows would leave most
  // lanes idle, where a block's offsets fit 32 bits.
  bool gathered() const;
  int64_t packed_floats() const;
  int64_t scratch_floats() const;
  int64_t grad_tiles() const;
  int64_t weight_grad_scratch_floats() const;
  int64_t grad_sum_floats() const;
};

void winograd4_pack_weights(const Winograd4Plan& plan, const float* w, bool transposed,
                            float* packed);
void winograd4_block(const Winograd4Plan& plan, int64_t block, const float* x, const float* packed,
                     const float* bias, float* y, float* scratch);
// The weight gradient as winograd_weight_grad and winograd_weight_grad_finish, with 36
// transformed positions. Both the image and the output gradient go channels-last, so that both
// transforms run over 16 channels of one tile whatever the plane's width.
void winograd4_weight_grad(const Winograd4Plan& plan, int64_t n0, int64_t n1, const float* x,
                           const float* dy, float* du, float* scratch);
void winograd4_weight_grad_finish(const Winograd4Plan& plan, const float* du, float* dw);

}  // namespace difflab::tensor::cpu
