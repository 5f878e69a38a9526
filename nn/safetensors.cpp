#include "nn/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "nn/file_io.h"
#include "nn/json_excerpt.h"

namespace difflab::nn {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; add byte swapping for this host");

namespace {

using json = nlohmann::json;
using tensor::DType;

const char* dtype_code(DType d) {
  switch (d) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i64:
      return "I64";
    case DType::u8:
      return "U8";
  }
  return "?";
}

bool parse_dtype(const std::string& code, DType& out) {
  if (code == "F32")
    out = DType::f32;
  else if (code == "F64")
    out = DType::f64;
  else if (code == "I64")
    out = DType::i64;
  else if (code == "U8")
    out = DType::u8;
  else
    return false;
  return true;
}

// A non-negative integer field of the header.
uint64_t get_uint(const json& j, const std::string& src, const std::string& key,
                  const char* field) {
  DIFFLAB_CHECK(j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0),
                "load_safetensors: '", src, "': tensor '", key, "' has a ", field,
                " entry that is not a non-negative integer: ", json_excerpt(j));
  return j.get<uint64_t>();
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const json& v, const std::string& src,
                  uint64_t data_size) {
  const std::string pre = "load_safetensors: '" + src + "': tensor '" + name + "'";
  DIFFLAB_CHECK(v.is_object(), pre, " is not an object: ", json_excerpt(v));
  for (const char* f : {"dtype", "shape", "data_offsets"})
    DIFFLAB_CHECK(v.contains(f), pre, " has no \"", f, "\" field");
  Entry e;
  e.name = name;
  DIFFLAB_CHECK(v["dtype"].is_string(), pre,
                " has a dtype that is not a string: ", json_excerpt(v["dtype"]));
  const std::string code = v["dtype"].get<std::string>();
  DIFFLAB_CHECK(parse_dtype(code, e.dtype), pre, " has unsupported dtype '", code,
                "' (supported: F32, F64, I64, U8)");
  DIFFLAB_CHECK(v["shape"].is_array(), pre,
                " has a shape that is not an array: ", json_excerpt(v["shape"]));
  // Element count with overflow checks: a corrupt shape must not wrap around.
  uint64_t bytes = tensor::dtype_size(e.dtype);
  bool overflow = false;
  // The product of the nonzero dims, checked last: a zero dim makes the byte count 0, but
  // strides still multiply the other dims ([0, 2^62, 2^62] would overflow int64).
  uint64_t extent = 1;
  bool extent_overflow = false;
  for (const json& d : v["shape"]) {
    uint64_t n = get_uint(d, src, name, "shape");
    DIFFLAB_CHECK(n <= uint64_t(INT64_MAX), pre, " has a shape entry too large: ", n);
    e.shape.push_back(int64_t(n));
    overflow = overflow || __builtin_mul_overflow(bytes, n, &bytes);
    if (n > 0) extent_overflow = extent_overflow || __builtin_mul_overflow(extent, n, &extent);
  }
  const json& off = v["data_offsets"];
  DIFFLAB_CHECK(off.is_array() && off.size() == 2, pre,
                " has data_offsets that are not a [begin, end] pair: ", json_excerpt(off));
  e.begin = get_uint(off[0], src, name, "data_offsets");
  e.end = get_uint(off[1], src, name, "data_offsets");
  DIFFLAB_CHECK(e.begin <= e.end && e.end <= data_size, pre, " has data_offsets [", e.begin, ", ",
                e.end, "] out of range for the ", data_size, "-byte data section");
  DIFFLAB_CHECK(!overflow && bytes == e.end - e.begin, pre, " has ", e.end - e.begin,
                " bytes (data_offsets [", e.begin, ", ", e.end, "]) but shape ", e.shape, " x ",
                code, " needs ", overflow ? std::string("more than 2^64") : std::to_string(bytes));
  DIFFLAB_CHECK(!extent_overflow && extent <= (uint64_t(1) << 62), pre, " has shape ", e.shape,
                " whose nonzero entries multiply beyond 2^62 (Tensor's limit)");
  return e;
}

}  // namespace

std::string encode_safetensors(const std::map<std::string, Tensor>& tensors,
                               const Metadata& metadata) {
  json header = json::object();
  if (!metadata.empty()) {
    json meta = json::object();
    for (auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::vector<Tensor> data;
  uint64_t off = 0;
  for (auto& [name, t] : tensors) {  // std::map: sorted-name order
    DIFFLAB_CHECK(!name.empty(), "save_safetensors: empty tensor name");
    DIFFLAB_CHECK(name != "__metadata__",
                  "save_safetensors: '__metadata__' is reserved and "
                  "cannot name a tensor");
    DIFFLAB_CHECK(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    Tensor c = (t.device().is_cpu() ? t : t.to(tensor::Device::cpu())).contiguous();
    json e = json::object();
    e["dtype"] = dtype_code(c.dtype());
    e["shape"] = c.shape();
    e["data_offsets"] = {off, off + c.nbytes()};
    header[name] = e;
    off += c.nbytes();
    data.push_back(c);
  }
  std::string js;
  try {
    js = header.dump();
  } catch (const json::exception& e) {
    DIFFLAB_FAIL("save_safetensors: a tensor name or metadata string is not valid UTF-8: ",
                 e.what());
  }
  js.append((8 - js.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  std::string out;
  out.reserve(8 + js.size() + off);
  const uint64_t n = js.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += js;
  for (auto& c : data)
    if (c.nbytes() > 0) out.append(static_cast<const char*>(c.raw_data()), c.nbytes());
  return out;
}

SafeTensors decode_safetensors(const std::string& bytes, const std::string& src) {
  const std::string pre = "load_safetensors: '" + src + "'";
  DIFFLAB_CHECK(bytes.size() >= 8, pre, " has ", bytes.size(),
                " bytes, fewer than the 8-byte header size field");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  const uint64_t rest = bytes.size() - 8;
  DIFFLAB_CHECK(n <= rest, pre, ": header size ", n, " exceeds the ", rest,
                " bytes after the header size field");
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(n));
  } catch (const json::exception& e) {
    DIFFLAB_FAIL(pre, ": header is not valid JSON: ", e.what());
  }
  DIFFLAB_CHECK(header.is_object(), pre, ": header is not a JSON object");
  const uint64_t data_size = rest - n;
  const char* data = bytes.data() + 8 + n;
  SafeTensors out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      DIFFLAB_CHECK(it->is_object(), pre, ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        DIFFLAB_CHECK(m->is_string(), pre, ": metadata '", m.key(),
                      "' is not a string: ", json_excerpt(*m));
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(it.key(), it.value(), src, data_size));
  }
  // The tensors must tile the data section exactly: no overlap, no gap, nothing after them.
  std::vector<const Entry*> order;
  for (auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    DIFFLAB_CHECK(e->begin >= pos, pre, ": tensors '", prev ? prev->name : "", "' and '", e->name,
                  "' overlap (data_offsets [", prev ? prev->begin : 0, ", ", pos, "] and [",
                  e->begin, ", ", e->end, "])");
    DIFFLAB_CHECK(e->begin == pos, pre, ": ", e->begin - pos, " unused bytes before tensor '",
                  e->name, "' (data_offsets [", e->begin, ", ", e->end, "])");
    pos = e->end;
    prev = e;
  }
  DIFFLAB_CHECK(pos == data_size, pre, ": ", data_size - pos,
                " trailing bytes after the last tensor (data section ", data_size,
                " bytes, tensors end at ", pos, ")");
  for (auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    out.tensors[e.name] = t;
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const Metadata& metadata) {
  std::string bytes;
  try {
    bytes = encode_safetensors(tensors, metadata);
  } catch (const Error& e) {
    DIFFLAB_FAIL(e.what(), " (writing '", path, "')");
  }
  write_file_atomic(path, bytes, "save_safetensors");
}

SafeTensors load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DIFFLAB_CHECK(in.good(), "load_safetensors: cannot open '", path, "': ", std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  DIFFLAB_CHECK(!in.bad(), "load_safetensors: error reading '", path, "'");
  return decode_safetensors(bytes, path);
}

void save_module(const std::string& path, const Module& module, const Metadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

Metadata load_module(const std::string& path, Module& module, bool strict) {
  SafeTensors st = load_safetensors(path);
  try {
    module.load_state_dict(st.tensors, strict);
  } catch (const Error& e) {
    DIFFLAB_FAIL("load_module: '", path, "': ", e.what());
  }
  return st.metadata;
}

}  // namespace difflab::nn
