#include "experiments/data/batch_iterator.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

BatchIterator::BatchIterator(int64_t dataset_size, int64_t batch_size, uint64_t seed, bool shuffle,
                             bool drop_last)
    : n_(dataset_size), batch_(batch_size), seed_(seed), shuffle_(shuffle), drop_last_(drop_last) {
  DIFFLAB_CHECK(n_ >= 1, "BatchIterator: data set is empty (size ", n_, ")");
  DIFFLAB_CHECK(batch_ >= 1, "BatchIterator: batch size must be >= 1, got ", batch_);
  DIFFLAB_CHECK(!drop_last_ || batch_ <= n_, "BatchIterator: batch size ", batch_,
                " exceeds the data set size ", n_, " with drop_last (no full batch exists)");
}

int64_t BatchIterator::batches_per_epoch() const {
  return drop_last_ ? n_ / batch_ : (n_ + batch_ - 1) / batch_;
}

Tensor BatchIterator::epoch_order(int64_t epoch) const {
  DIFFLAB_CHECK(epoch >= 0, "BatchIterator: negative epoch ", epoch);
  std::vector<int64_t> idx(static_cast<size_t>(n_));
  std::iota(idx.begin(), idx.end(), int64_t(0));
  if (shuffle_) {
    // Sort by 64-bit Philox keys with counter (item, epoch): a uniform random permutation
    // (ties, probability ~n²/2⁶⁴, fall back to item order) that needs no sequential state.
    std::vector<uint64_t> key(static_cast<size_t>(n_));
    const std::array<uint32_t, 2> k = {uint32_t(seed_), uint32_t(seed_ >> 32)};
    for (int64_t i = 0; i < n_; ++i) {
      auto u = tensor::philox4x32_10({uint32_t(i), uint32_t(uint64_t(i) >> 32), uint32_t(epoch),
                                      uint32_t(uint64_t(epoch) >> 32)},
                                     k);
      key[size_t(i)] = (uint64_t(u[0]) << 32) | u[1];
    }
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int64_t a, int64_t b) { return key[size_t(a)] < key[size_t(b)]; });
  }
  return tensor::from_vector<int64_t>(idx, {n_});
}

Tensor BatchIterator::next() {
  const int64_t remaining = n_ - state_.position;
  if (remaining <= 0 || (drop_last_ && remaining < batch_)) {
    ++state_.epoch;
    state_.position = 0;
  }
  if (order_epoch_ != state_.epoch) {
    order_ = epoch_order(state_.epoch);
    order_epoch_ = state_.epoch;
  }
  const int64_t b = std::min(batch_, n_ - state_.position);
  Tensor out = order_.slice(0, state_.position, state_.position + b).clone();
  state_.position += b;
  return out;
}

void BatchIterator::set_state(const BatchIteratorState& s) {
  DIFFLAB_CHECK(s.epoch >= 0 && s.position >= 0 && s.position <= n_,
                "BatchIterator::set_state: state {epoch ", s.epoch, ", position ", s.position,
                "} is out of range for a data set of ", n_);
  DIFFLAB_CHECK(s.position % batch_ == 0 || s.position == n_, "BatchIterator::set_state: position ",
                s.position, " is not a batch boundary (batch size ", batch_, ")");
  state_ = s;
}

Tensor take_rows(const Tensor& data, const Tensor& index) {
  return tensor::index_select(data, 0, index);
}

}  // namespace difflab::experiments
