#include "nn/cond_encoder.h"

#include <cmath>
#include <sstream>

#include "autograd/functions.h"

namespace difflab::nn {

void CondEncoderConfig::validate() const {
  DIFFLAB_CHECK(channels > 0 && height > 0 && width > 0 && height % 4 == 0 && width % 4 == 0,
                "CondEncoderConfig: image ", channels, "x", height, "x", width,
                " must be positive with height and width divisible by 4");
  DIFFLAB_CHECK(features > 0, "CondEncoderConfig: features=", features, " must be positive");
  DIFFLAB_CHECK(groups > 0 && 32 % groups == 0, "CondEncoderConfig: groups=", groups,
                " must divide 32");
  DIFFLAB_CHECK(std::isfinite(dropout) && dropout >= 0 && dropout < 1,
                "CondEncoderConfig: dropout=", dropout, " must be in [0, 1)");
}

std::string CondEncoderConfig::str() const {
  std::ostringstream os;
  os << "ConvCondEncoder(" << channels << "x" << height << "x" << width << " -> " << features
     << ", groups=" << groups << ", dropout=" << dropout << ")";
  return os.str();
}

ConvCondEncoder::ConvCondEncoder(CondEncoderConfig cfg, tensor::Generator* gen)
    : cfg_(std::move(cfg)) {
  cfg_.validate();
  auto conv = [&](const char* name, int64_t in, int64_t out) {
    return register_module(name, std::make_shared<Conv2d>(in, out, 3, 1, 1, 1, 1, true, gen));
  };
  auto norm = [&](const char* name, int64_t ch) {
    return register_module(name, std::make_shared<GroupNorm>(cfg_.groups, ch));
  };
  c1_ = conv("conv1", cfg_.channels, 32), n1_ = norm("norm1", 32);
  c2_ = conv("conv2", 32, 32), n2_ = norm("norm2", 32);
  c3_ = conv("conv3", 32, 64), n3_ = norm("norm3", 64);
  c4_ = conv("conv4", 64, 64), n4_ = norm("norm4", 64);
  drop_ = register_module("drop", std::make_shared<Dropout>(cfg_.dropout));
  const int64_t flat = 64 * (cfg_.height / 4) * (cfg_.width / 4);
  out_ = register_module("out", std::make_shared<Linear>(flat, cfg_.features, true, gen));
}

Var ConvCondEncoder::forward(const Var& cond) const {
  DIFFLAB_CHECK(cond.defined() && cond.dim() == 2 && cond.size(1) == cfg_.input_dim(),
                "ConvCondEncoder: cond ", cond.defined() ? cond.value().desc() : "undefined",
                " must be [B, ", cfg_.input_dim(), "] (flattened images) for ", cfg_.str());
  const int64_t b = cond.size(0);
  Var h = ag::reshape(ag::contiguous(cond), {b, cfg_.channels, cfg_.height, cfg_.width});
  h = n1_->forward_silu(c1_->forward(h));
  h = n2_->forward_silu(c2_->forward(h));
  h = drop_->forward(ag::avg_pool2d(h, 2));
  h = n3_->forward_silu(c3_->forward(h));
  h = n4_->forward_silu(c4_->forward(h));
  h = drop_->forward(ag::avg_pool2d(h, 2));
  return out_->forward(ag::reshape(h, {b, h.size(1) * h.size(2) * h.size(3)}));
}

}  // namespace difflab::nn
