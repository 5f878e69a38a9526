#include "nn/conv_generator.h"

#include <algorithm>
#include <string>

#include "autograd/functions.h"
#include "tensor/error.h"

namespace difflab::nn {

namespace {
int64_t groups_for(int64_t c) { return std::min<int64_t>(8, c); }
}  // namespace

ConvGenerator::ConvGenerator(ConvGeneratorConfig cfg, tensor::Generator* gen) : cfg_(cfg) {
  DIFFLAB_CHECK(cfg_.noise_dim > 0 && cfg_.channels >= 8 && cfg_.stages >= 0 &&
                    cfg_.out_channels > 0,
                "ConvGenerator: noise_dim=", cfg_.noise_dim, " channels=", cfg_.channels,
                " (>= 8) stages=", cfg_.stages, " out_channels=", cfg_.out_channels);
  DIFFLAB_CHECK(cfg_.image_size % (int64_t(1) << cfg_.stages) == 0,
                "ConvGenerator: image_size ", cfg_.image_size, " is not divisible by 2^",
                cfg_.stages);
  base_size_ = cfg_.image_size >> cfg_.stages;
  int64_t ch = cfg_.channels;
  fc_ = register_module("fc", std::make_shared<Linear>(cfg_.noise_dim, ch * base_size_ * base_size_,
                                                       true, gen));
  for (int64_t s = 0; s < cfg_.stages; ++s) {
    const int64_t out = std::max<int64_t>(16, ch / 2);
    const std::string p = "up" + std::to_string(s) + ".";
    Stage st;
    st.n1 = register_module(p + "norm1", std::make_shared<GroupNorm>(groups_for(ch), ch));
    st.c1 = register_module(p + "conv1", std::make_shared<Conv2d>(ch, out, 3, 1, 1, 1, 1, true, gen));
    st.n2 = register_module(p + "norm2", std::make_shared<GroupNorm>(groups_for(out), out));
    st.c2 = register_module(p + "conv2", std::make_shared<Conv2d>(out, out, 3, 1, 1, 1, 1, true, gen));
    stages_.push_back(st);
    ch = out;
  }
  out_norm_ = register_module("out_norm", std::make_shared<GroupNorm>(groups_for(ch), ch));
  out_ = register_module("out", std::make_shared<Conv2d>(ch, cfg_.out_channels, 3, 1, 1, 1, 1,
                                                         true, gen));
}

Var ConvGenerator::forward(const Var& noise) const {
  DIFFLAB_CHECK(noise.defined() && noise.dim() == 2 && noise.size(1) == cfg_.noise_dim,
                "ConvGenerator: noise ", noise.defined() ? noise.value().desc() : "undefined",
                " must be [B, ", cfg_.noise_dim, "]");
  Var h = ag::reshape(fc_->forward(noise), {noise.size(0), cfg_.channels, base_size_, base_size_});
  for (const Stage& st : stages_) {
    h = ag::upsample_nearest2d(h, 2);
    h = st.c1->forward(st.n1->forward_silu(h));
    h = st.c2->forward(st.n2->forward_silu(h));
  }
  return ag::tanh(out_->forward(out_norm_->forward_silu(h)));
}

}  // namespace difflab::nn
