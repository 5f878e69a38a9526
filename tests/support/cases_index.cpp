// Op-table cases: joining, indexing, sorting, cumulative sums, pairwise distances, dropout.
// The linear ops are followed by a square so that the second-order check exercises the backward
// of their backward (index_add <-> index_select, gather <-> scatter_add, cumsum <-> reverse).
#include "autograd/functions.h"
#include "tensor/factory.h"
#include "tests/support/op_table.h"

namespace difflab::testing {

using namespace difflab::ag;

namespace {
Tensor idx(const std::vector<int64_t>& v, const Shape& shape) {
  return tensor::from_vector<int64_t>(v, shape);
}
}  // namespace

std::vector<OpCase> index_cases() {
  using V = const std::vector<Var>&;
  std::vector<OpCase> c;
  auto sq = [](const Var& y) { return square(y); };

  c.push_back({"cat_dim0_3_inputs", {{{2, 3}}, {{1, 3}}, {{3, 3}}},
               [sq](V x) { return sq(cat({x[0], x[1], x[2]}, 0)); }, true});
  c.push_back({"cat_dim1_3_inputs", {{{3, 2}}, {{3, 1}}, {{3, 4}}},
               [sq](V x) { return sq(cat({x[0], x[1], x[2]}, -1)); }, true});
  c.push_back({"stack_dim1", {{{3, 4}}, {{3, 4}}},
               [sq](V x) { return sq(stack({x[0], x[1]}, 1)); }, true});
  c.push_back({"index_select_repeated", {{{5, 3}}},
               [sq](V x) { return sq(index_select(x[0], 0, idx({4, 0, 4, 2, 0}, {5}))); },
               true});
  c.push_back({"index_select_last_dim", {{{3, 5}}},
               [sq](V x) { return sq(index_select(x[0], -1, idx({1, 1, 3}, {3}))); }, true});
  c.push_back({"index_add_repeated", {{{4, 3}}},
               [sq](V x) { return sq(index_add(x[0], 0, idx({2, 0, 2, 1}, {4}), 3)); }, true});
  c.push_back({"gather_dim1", {{{3, 4}}},
               [sq](V x) {
                 return sq(gather(x[0], 1, idx({0, 3, 3, 1, 1, 0, 2, 0, 3}, {3, 3})));
               },
               true});
  c.push_back({"gather_dim0_smaller_index", {{{4, 3}}},
               [sq](V x) { return sq(gather(x[0], 0, idx({3, 0, 3, 1}, {2, 2}))); }, true});
  c.push_back({"scatter_add_dim1_repeated", {{{3, 4}}, {{3, 5}}},
               [sq](V x) {
                 return sq(scatter_add(x[0], 1, idx({0, 3, 3, 1, 0, 2, 2, 2, 0, 1}, {2, 5}),
                                       x[1]));
               },
               true});
  c.push_back({"scatter_add_dim0", {{{4, 2}}, {{3, 2}}},
               [sq](V x) {
                 return sq(scatter_add(x[0], 0, idx({1, 0, 1, 3, 3, 3}, {3, 2}), x[1]));
               },
               true});
  c.push_back({"embedding_2d_index", {{{5, 3}}},
               [sq](V x) { return sq(embedding(x[0], idx({0, 2, 2, 4, 1, 0}, {2, 3}))); },
               true});
  c.push_back({"cdist2", {{{4, 3}}, {{5, 3}}}, [](V x) { return cdist2(x[0], x[1]); }, true});
  c.push_back({"cdist2_batched", {{{2, 3, 4}}, {{2, 5, 4}}},
               [](V x) { return cdist2(x[0], x[1]); }, true});
  c.push_back({"cdist2_broadcast_batch", {{{2, 1, 3, 2}}, {{3, 4, 2}}},
               [](V x) { return cdist2(x[0], x[1]); }, true});
  c.push_back({"cdist2_odd_features", {{{5, 11}}, {{6, 11}}},
               [](V x) { return cdist2(x[0], x[1]); }, true});
  // D >= 128 takes the lane-summed kernel path (smaller D the transposed-tile path).
  c.push_back({"cdist2_long_features", {{{3, 133}}, {{2, 133}}},
               [](V x) { return cdist2(x[0], x[1]); }, true});
  c.push_back({"sort_values", {{{3, 5}}},
               [sq](V x) { return sq(sort(x[0], 1).first); }, true});
  c.push_back({"sort_descending_dim0", {{{4, 3}}},
               [sq](V x) { return sq(sort(x[0], 0, true).first); }, true});
  c.push_back({"cumsum_dim0", {{{4, 3}}}, [sq](V x) { return sq(cumsum(x[0], 0)); }, true});
  c.push_back({"cumsum_last_dim", {{{3, 5}}}, [sq](V x) { return sq(cumsum(x[0], -1)); }, true});
  c.push_back({"cumsum_reverse_dim1", {{{2, 3, 4}}},
               [sq](V x) { return sq(cumsum_reverse(x[0], 1)); }, true});
  c.push_back({"dropout_fixed_generator", {{{4, 5}}},
               [sq](V x) {
                 tensor::Generator gen(7);  // fresh each call: the same mask every evaluation
                 return sq(dropout(x[0], 0.4, true, &gen));
               },
               true});
  c.push_back({"dropout_eval_identity", {{{3, 4}}},
               [sq](V x) { return sq(dropout(x[0], 0.5, false)); }, true});
  return c;
}

}  // namespace difflab::testing
