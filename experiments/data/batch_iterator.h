// Deterministic mini-batch indices over a data set of fixed size. Epoch e visits a permutation
// that depends only on (seed, e) (Philox keys sorted; the identity when shuffle is off), so the
// state {epoch, position} is all a resume needs: restoring it gives the same batches bit for bit.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct BatchIteratorState {
  int64_t epoch = 0;     // current epoch
  int64_t position = 0;  // index into the epoch's permutation of the next batch's first item
};

class BatchIterator {
 public:
  // drop_last: when fewer than batch_size items remain in an epoch, skip them and start the next
  // epoch (every batch is full); otherwise the last batch of an epoch is shorter.
  BatchIterator(int64_t dataset_size, int64_t batch_size, uint64_t seed, bool shuffle = true,
                bool drop_last = true);

  // Indices (i64 [B]) of the next batch; rolls over to the next epoch as needed.
  tensor::Tensor next();
  // The permutation (i64 [N]) visited in epoch `epoch`.
  tensor::Tensor epoch_order(int64_t epoch) const;

  BatchIteratorState state() const { return state_; }
  void set_state(const BatchIteratorState& s);  // checks it is reachable
  int64_t batches_per_epoch() const;
  int64_t dataset_size() const { return n_; }
  int64_t batch_size() const { return batch_; }
  uint64_t seed() const { return seed_; }

 private:
  int64_t n_, batch_;
  uint64_t seed_;
  bool shuffle_, drop_last_;
  BatchIteratorState state_;
  tensor::Tensor order_;  // cached epoch_order(order_epoch_)
  int64_t order_epoch_ = -1;
};

// Rows of `data` at `index` along dim 0 (index_select): the batch itself.
tensor::Tensor take_rows(const tensor::Tensor& data, const tensor::Tensor& index);

}  // namespace difflab::experiments
