#include "nn/time_embedding.h"

#include <cmath>
#include <vector>

#include "tensor/factory.h"

namespace difflab::nn {

namespace {
// Holds mlp.0 and mlp.2 (mlp.1 is the parameter-free SiLU).
class TimeMlp : public Module {
 public:
  TimeMlp(std::shared_ptr<Linear> a, std::shared_ptr<Linear> b) {
    register_module("0", std::move(a));
    register_module("2", std::move(b));
  }
};
}  // namespace

SinusoidalTimeEmbedding::SinusoidalTimeEmbedding(int64_t dim, tensor::Generator* gen) : dim_(dim) {
  DIFFLAB_CHECK(dim >= 2 && dim % 2 == 0,
                "SinusoidalTimeEmbedding: dim must be even and >= 2, got ", dim);
  fc1_ = std::make_shared<Linear>(dim, 4 * dim, true, gen);
  fc2_ = std::make_shared<Linear>(4 * dim, 4 * dim, true, gen);
  register_module("mlp", std::make_shared<TimeMlp>(fc1_, fc2_));
}

Tensor SinusoidalTimeEmbedding::features(const Tensor& t, DType dtype) const {
  DIFFLAB_CHECK(t.defined() && t.dim() == 1 && tensor::is_floating(t.dtype()),
                "SinusoidalTimeEmbedding(", dim_, "): t must be a 1-D floating tensor [B], got ",
                t.defined() ? t.desc() : std::string("undefined"));
  const auto tv = t.to(DType::f64).contiguous().to_vector<double>();
  const int64_t half = dim_ / 2, b = int64_t(tv.size());
  std::vector<double> out(size_t(b * dim_));
  for (int64_t i = 0; i < half; ++i) {
    const double f = std::exp(-std::log(10000.0) * double(i) / double(half));
    for (int64_t r = 0; r < b; ++r) {
      const double e = tv[size_t(r)] * f;
      out[size_t(r * dim_ + i)] = std::sin(e);
      out[size_t(r * dim_ + half + i)] = std::cos(e);
    }
  }
  return tensor::from_vector(out, {b, dim_}, dtype).to(t.device());
}

Var SinusoidalTimeEmbedding::forward(const Tensor& t) const {
  Var f(features(t, fc1_->weight().dtype()));
  return fc2_->forward(ag::silu(fc1_->forward(f)));
}

}  // namespace difflab::nn
