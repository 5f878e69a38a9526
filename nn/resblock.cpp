#include "nn/resblock.h"

namespace difflab::nn {

ResBlock::ResBlock(int64_t in_channels, int64_t out_channels, int64_t embed_dim, int64_t groups,
                   double dropout, tensor::Generator* gen)
    : cin_(in_channels), cout_(out_channels), edim_(embed_dim) {
  // Registration (and so initialisation) order follows the reference: n1 c1 t n2 c2 skip.
  n1_ = register_module("n1", std::make_shared<GroupNorm>(groups, cin_));
  c1_ = register_module("c1", std::make_shared<Conv2d>(cin_, cout_, 3, 1, 1, 1, 1, true, gen));
  t_ = register_module("t", std::make_shared<Linear>(embed_dim, cout_, true, gen));
  n2_ = register_module("n2", std::make_shared<GroupNorm>(groups, cout_));
  if (dropout > 0.0) drop_ = register_module("drop", std::make_shared<Dropout>(dropout));
  c2_ = register_module("c2", std::make_shared<Conv2d>(cout_, cout_, 3, 1, 1, 1, 1, true, gen));
  if (cin_ != cout_)
    skip_ =
        register_module("skip", std::make_shared<Conv2d>(cin_, cout_, 1, 1, 0, 1, 1, true, gen));
}

std::string ResBlock::desc() const {
  return detail::concat("ResBlock(", cin_, "->", cout_, ", embed ", edim_, ")");
}

Var ResBlock::forward(const Var& x, const Var& e) const {
  DIFFLAB_CHECK(x.defined() && x.dim() == 4 && x.size(1) == cin_, desc(), ": input ",
                x.defined() ? x.value().desc() : std::string("undefined"), " must be [B, ", cin_,
                ", H, W]");
  DIFFLAB_CHECK(e.defined() && e.dim() == 2 && e.size(0) == x.size(0) && e.size(1) == edim_, desc(),
                ": embedding ", e.defined() ? e.value().desc() : std::string("undefined"),
                " must be [", x.size(0), ", ", edim_, "] for input ", x.value().desc());
  Var te = ag::reshape(t_->forward(e), {x.size(0), cout_, 1, 1});
  Var h = ag::add(c1_->forward(n1_->forward_silu(x)), te);
  h = n2_->forward_silu(h);
  if (drop_) h = drop_->forward(h);
  h = c2_->forward(h);
  return ag::add(h, skip_ ? skip_->forward(x) : x);
}

}  // namespace difflab::nn
