// Parity-only cases at sizes that reach every CUDA code path the small op-table shapes miss:
// multi-warp row groups (gs 64/128/256), the two-pass chunked reductions, the column kernels,
// softmax_cols, the chunked layer-norm weight gradient, multi-tile cdist, multi-pass sorts,
// grids of more than one block, and every convolution of the default U-Net at its three levels
// (batch 4). Each name says the path it is for; thresholds are those of tensor/cuda/*.cu.
// Too large for finite differences: the gradcheck table never runs them.
#include "autograd/functions.h"
#include "tensor/factory.h"
#include "tests/support/op_table.h"

namespace difflab::testing {

using namespace difflab::ag;

namespace {

using V = const std::vector<Var>&;

Var sq(const Var& y) { return square(y); }

Conv2dParams conv_p(int64_t stride, int64_t pad) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  return p;
}

// Index tensors with values (i * 7919) mod n: every value used, repeated, not sorted.
Tensor spread_index(int64_t count, int64_t n, const Shape& shape) {
  std::vector<int64_t> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[size_t(i)] = (i * 7919) % n;
  return tensor::from_vector<int64_t>(v, shape);
}

// Only the plain layout for the big cases, except where a strided input is the point.
OpCase big(std::string name, std::vector<InputSpec> in, ag::VarFn fn, bool strided = false) {
  OpCase c{std::move(name), std::move(in), std::move(fn), false, strided};
  return c;
}

// reduce.cu: row groups (inner < 16) of each width, two-pass chunks (rows < 1024, R > 8192),
// the column kernel (inner >= 16) with and without chunks (rows < 65536, R > 256).
void reductions(std::vector<OpCase>& c) {
  c.push_back(big("sum_rows_gs64_multiblock", {{{300, 100}}}, [](V x) { return sq(sum(x[0], {1})); }));
  c.push_back(big("mean_rows_gs128", {{{200, 200}}}, [](V x) { return sq(mean(x[0], {1})); }));
  c.push_back(big("var_rows_gs256", {{{64, 1000}}}, [](V x) { return var(x[0], {1}); }, true));
  c.push_back(big("sum_all_two_pass_20000", {{{20000}}}, [](V x) { return sq(sum(x[0])); }));
  c.push_back(big("var_two_pass_rows", {{{4, 20000}}}, [](V x) { return var(x[0], {1}); }));
  c.push_back(big("amax_two_pass_rows", {{{3, 9000}}}, [](V x) { return sq(amax(x[0], 1)); }));
  c.push_back(big("logsumexp_two_pass", {{{2, 10000}}}, [](V x) { return logsumexp(x[0], {1}); }));
  c.push_back(big("sum_cols_single_pass", {{{8, 100, 128}}}, [](V x) { return sq(sum(x[0], {1})); }));
  c.push_back(big("var_cols_chunked", {{{16, 600, 16}}}, [](V x) { return var(x[0], {1}); }));
  c.push_back(big("amax_cols_chunked", {{{4, 300, 32}}}, [](V x) { return sq(amax(x[0], 1)); }));
  c.push_back(big("logsumexp_cols_chunked", {{{4, 300, 32}}},
                  [](V x) { return logsumexp(x[0], {1}); }));
  c.push_back(big("mean_dims_0_2_cols", {{{50, 40, 30}}}, [](V x) { return sq(mean(x[0], {0, 2})); }));
}

// softmax.cu: softmax_cols (inner >= 16 and outer * inner >= 8192), rows at gs 64 and 256.
void softmaxes(std::vector<OpCase>& c) {
  c.push_back(big("softmax_cols", {{{32, 20, 512}}}, [](V x) { return sq(softmax(x[0], 1)); }));
  c.push_back(big("log_softmax_cols", {{{32, 20, 512}}}, [](V x) { return log_softmax(x[0], 1); }));
  c.push_back(big("softmax_rows_gs256", {{{64, 1000}}}, [](V x) { return sq(softmax(x[0], -1)); },
                  true));
  c.push_back(big("log_softmax_rows_gs64", {{{500, 100}}}, [](V x) { return log_softmax(x[0], -1); }));
}

// norm.cu: group norm at the U-Net's three levels (8 groups: rows of 3136/1568/784, gs 256; the
// backward's plane sums at HW 784/196/49: gs 256/128/32), a gs-64 plane (HW 100), layer norm
// rows at gs 32 and 256 with the chunked weight gradient (D < 65536, rows > 64).
void norms(std::vector<OpCase>& c) {
  const std::vector<std::pair<int64_t, int64_t>> levels{{32, 28}, {64, 14}, {128, 7}};
  for (auto [ch, s] : levels) {
    const std::string n = std::to_string(ch) + "x" + std::to_string(s);
    c.push_back(big("group_norm_silu_unet_" + n, {{{4, ch, s, s}}, {{ch}}, {{ch}}},
                    [](V x) { return sq(group_norm_silu(x[0], 8, x[1], x[2])); }));
    c.push_back(big("group_norm_unet_" + n, {{{4, ch, s, s}}, {{ch}}, {{ch}}},
                    [](V x) { return sq(group_norm(x[0], 8, x[1], x[2])); }));
  }
  c.push_back(big("group_norm_plane_gs64", {{{4, 16, 10, 10}}, {{16}}, {{16}}},
                  [](V x) { return sq(group_norm(x[0], 4, x[1], x[2])); }, true));
  c.push_back(big("layer_norm_gs32_chunked_weight_grad", {{{1000, 48}}, {{48}}, {{48}}},
                  [](V x) { return sq(layer_norm(x[0], 1, x[1], x[2])); }));
  c.push_back(big("layer_norm_gs256_two_chunks", {{{128, 600}}, {{600}}, {{600}}},
                  [](V x) { return sq(layer_norm(x[0], 1, x[1], x[2])); }));
}

// conv.cu through autograd (forward, input and weight gradients): every convolution of the
// default U-Net (32/64/128 channels at 28/14/7, batch 4): im2col 3x3, the direct 1x1 path,
// stride-2 down-sampling, and the nearest up-sampling and average pooling around them.
void convolutions(std::vector<OpCase>& c) {
  auto conv = [&](std::string name, Shape xs, Shape ws, Conv2dParams p, bool strided = false) {
    c.push_back(big("conv_unet_" + name, {{xs}, {ws}, {{ws[0]}}},
                    [p](V x) { return sq(conv2d(x[0], x[1], x[2], p)); }, strided));
  };
  conv("in_1to32_28", {4, 1, 28, 28}, {32, 1, 3, 3}, conv_p(1, 1));
  conv("res_32_28", {4, 32, 28, 28}, {32, 32, 3, 3}, conv_p(1, 1));
  conv("down_32_28to14", {4, 32, 28, 28}, {32, 32, 3, 3}, conv_p(2, 1));
  conv("res_32to64_14", {4, 32, 14, 14}, {64, 32, 3, 3}, conv_p(1, 1), true);
  conv("skip_1x1_32to64_14", {4, 32, 14, 14}, {64, 32, 1, 1}, conv_p(1, 0));
  conv("down_64_14to7", {4, 64, 14, 14}, {64, 64, 3, 3}, conv_p(2, 1));
  conv("res_64to128_7", {4, 64, 7, 7}, {128, 64, 3, 3}, conv_p(1, 1));
  conv("skip_1x1_64to128_7", {4, 64, 7, 7}, {128, 64, 1, 1}, conv_p(1, 0));
  conv("up_192to64_14", {4, 192, 14, 14}, {64, 192, 3, 3}, conv_p(1, 1));
  conv("out_32to1_28", {4, 32, 28, 28}, {1, 32, 3, 3}, conv_p(1, 1));
  c.push_back(big("upsample_unet_128_7to14", {{{4, 128, 7, 7}}},
                  [](V x) { return sq(upsample_nearest2d(x[0], 2)); }));
  c.push_back(big("avg_pool_unet_32_28", {{{4, 32, 28, 28}}},
                  [](V x) { return sq(avg_pool2d(x[0], 2)); }));
}

// elementwise.cu, copy.cu, matmul.cu (cuBLAS), cdist.cu, index.cu, sort.cu, random.cu: grids of
// more than one block, broadcasting and strided copies, several cdist tiles, multi-pass sorts.
void elementwise_and_index(std::vector<OpCase>& c) {
  c.push_back(big("unary_chain_multiblock", {{{300, 70}}},
                  [](V x) { return tanh(silu(x[0]) * sigmoid(x[0])) + gelu(x[0]); }, true));
  c.push_back(big("binary_broadcast_multiblock", {{{300, 70}}, {{70}}, {{300, 1}}},
                  [](V x) { return maximum(x[0] * x[1], x[2]) + x[0] / (square(x[1]) + 1.0); }));
  c.push_back(big("clamp_pow_where_multiblock", {{{300, 70}}, {{300, 70}, Domain::positive}},
                  [](V x) {
                    Tensor cond = tensor::binary(tensor::BinaryOp::gt, x[1].value(),
                                                 tensor::full({1}, 1.2, x[1].value().dtype(),
                                                              x[1].value().device()));
                    return where(cond, clamp(x[0], -0.5, 0.7), pow(x[1], 1.5) * 0.5);
                  }));
  c.push_back(big("transpose_copy_multiblock", {{{300, 70}}},
                  [](V x) { return sq(contiguous(transpose(x[0], 0, 1))); }, true));
  c.push_back(big("matmul_256x300x200", {{{256, 300}}, {{300, 200}}},
                  [](V x) { return matmul(x[0], x[1]); }));
  c.push_back(big("linear_batched_bias", {{{4, 100, 96}}, {{160, 96}}, {{160}}},
                  [](V x) { return sq(linear(x[0], x[1], x[2])); }));
  c.push_back(big("cdist2_multitile", {{{200, 16}}, {{150, 16}}},
                  [](V x) { return cdist2(x[0], x[1]); }));
  c.push_back(big("cdist2_batched_multitile_long", {{{3, 130, 40}}, {{3, 70, 40}}},
                  [](V x) { return cdist2(x[0], x[1]); }));
  c.push_back(big("sort_rows_1000_multipass", {{{6, 1000}}},
                  [](V x) { return sq(sort(x[0], 1).first); }));
  c.push_back(big("cumsum_multiblock", {{{40, 500}}}, [](V x) { return sq(cumsum(x[0], 1)); }));
  c.push_back(big("cat_multiblock", {{{300, 40}}, {{300, 30}}},
                  [](V x) { return sq(cat({x[0], x[1]}, 1)); }));
  c.push_back(big("index_select_multiblock", {{{500, 8}}},
                  [](V x) { return sq(index_select(x[0], 0, spread_index(2000, 500, {2000}))); }));
  c.push_back(big("gather_scatter_multiblock", {{{400, 16}}},
                  [](V x) { return sq(gather(x[0], 0, spread_index(6400, 400, {400, 16}))); }));
  c.push_back(big("index_add_multiblock", {{{500, 8}}},
                  [](V x) {
                    return sq(index_add(x[0], 0, spread_index(500, 97, {500}), 97));
                  }));
  c.push_back(big("embedding_multiblock", {{{1000, 8}}},
                  [](V x) { return sq(embedding(x[0], spread_index(1500, 1000, {30, 50}))); }));
  c.push_back(big("dropout_multiblock", {{{300, 70}}},
                  [](V x) {
                    tensor::Generator gen(11);
                    return sq(dropout(x[0], 0.3, true, &gen));
                  }));
}

}  // namespace

std::vector<OpCase> large_parity_cases() {
  std::vector<OpCase> c;
  reductions(c);
  softmaxes(c);
  norms(c);
  convolutions(c);
  elementwise_and_index(c);
  return c;
}

}  // namespace difflab::testing
