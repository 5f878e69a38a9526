#include "experiments/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "experiments/io.h"

namespace difflab::experiments {

std::map<std::string, Series> metric_series(const std::vector<MetricRow>& rows) {
  std::map<std::string, Series> by;
  for (const MetricRow& r : rows) {
    Series& s = by[r.metric];
    s.name = r.metric;
    s.x.push_back(double(r.step)), s.y.push_back(r.value);
  }
  return by;
}

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string base64_encode(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[v >> 18], out += t[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += '=';
  }
  return out;
}

namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// "Nice" tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int want = 5) {
  std::vector<double> out;
  double span = hi - lo;
  if (!(span > 0)) return {lo};
  double step = std::pow(10.0, std::floor(std::log10(span / want)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (span / (step * m) <= want) {
      step *= m;
      break;
    }
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push_back(v);
  return out;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                         "#e377c2", "#17becf"};

}  // namespace

std::string svg_line_plot(const std::vector<Series>& series, const PlotOptions& o) {
  auto tx = [&](double v) { return o.logx ? std::log10(v) : v; };
  auto ty = [&](double v) { return o.logy ? std::log10(v) : v; };
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      double a = tx(s.x[i]), b = ty(s.y[i]);
      if (!std::isfinite(a) || !std::isfinite(b)) continue;
      x0 = std::min(x0, a), x1 = std::max(x1, a), y0 = std::min(y0, b), y1 = std::max(y1, b);
    }
  std::ostringstream os;
  const double L = 64, R = 16, T = 28, B = 44;
  const double pw = o.width - L - R, ph = o.height - T - B;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << o.width << "' height='" << o.height
     << "' font-family='sans-serif' font-size='11'>";
  os << "<text x='" << o.width / 2 << "' y='16' text-anchor='middle' font-size='13'>"
     << html_escape(o.title) << "</text>";
  if (!std::isfinite(x0)) {
    os << "<text x='" << o.width / 2 << "' y='" << o.height / 2
       << "' text-anchor='middle'>no data</text></svg>";
    return os.str();
  }
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  auto px = [&](double a) { return L + (a - x0) / (x1 - x0) * pw; };
  auto py = [&](double b) { return T + (1 - (b - y0) / (y1 - y0)) * ph; };
  os << "<rect x='" << L << "' y='" << T << "' width='" << pw << "' height='" << ph
     << "' fill='none' stroke='#888'/>";
  for (double v : ticks(x0, x1)) {
    os << "<line x1='" << px(v) << "' y1='" << T + ph << "' x2='" << px(v) << "' y2='" << T + ph + 4
       << "' stroke='#888'/><text x='" << px(v) << "' y='" << T + ph + 16
       << "' text-anchor='middle'>" << fmt(o.logx ? std::pow(10, v) : v) << "</text>";
  }
  for (double v : ticks(y0, y1)) {
    os << "<line x1='" << L - 4 << "' y1='" << py(v) << "' x2='" << L + pw << "' y2='" << py(v)
       << "' stroke='#eee'/><text x='" << L - 6 << "' y='" << py(v) + 4
       << "' text-anchor='end'>" << fmt(o.logy ? std::pow(10, v) : v) << "</text>";
  }
  os << "<text x='" << L + pw / 2 << "' y='" << o.height - 8 << "' text-anchor='middle'>"
     << html_escape(o.xlabel) << "</text>";
  os << "<text transform='translate(14," << T + ph / 2 << ") rotate(-90)' text-anchor='middle'>"
     << html_escape(o.ylabel) << "</text>";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* col = kColors[k % 8];
    os << "<polyline fill='none' stroke='" << col << "' stroke-width='1.5' points='";
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      double a = tx(s.x[i]), b = ty(s.y[i]);
      if (std::isfinite(a) && std::isfinite(b)) os << px(a) << "," << py(b) << " ";
    }
    os << "'/>";
    if (s.x.size() == 1 && std::isfinite(tx(s.x[0])) && std::isfinite(ty(s.y[0])))
      os << "<circle cx='" << px(tx(s.x[0])) << "' cy='" << py(ty(s.y[0])) << "' r='3' fill='"
         << col << "'/>";
    os << "<text x='" << L + 8 << "' y='" << T + 14 + 14 * double(k) << "' fill='" << col << "'>"
       << html_escape(s.name) << "</text>";
  }
  os << "</svg>";
  return os.str();
}

Report::Report(std::string title) : title_(std::move(title)) {}

void Report::heading(const std::string& text) { body_ += "<h2>" + html_escape(text) + "</h2>\n"; }

void Report::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void Report::link(const std::string& text, const std::string& href) {
  body_ += "<p><a href=\"" + html_escape(href) + "\">" + html_escape(text) + "</a></p>\n";
}

void Report::table(const std::vector<std::string>& header,
                   const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table><tr>";
  for (auto& h : header) body_ += "<th>" + html_escape(h) + "</th>";
  body_ += "</tr>\n";
  for (auto& r : rows) {
    body_ += "<tr>";
    for (auto& c : r) body_ += "<td>" + html_escape(c) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void Report::plot(const std::vector<Series>& series, const PlotOptions& opt) {
  body_ += "<div class='plot'>" + svg_line_plot(series, opt) + "</div>\n";
}

void Report::image(const std::string& caption, const std::string& png) {
  body_ += "<figure><img src='data:image/png;base64," + base64_encode(png) +
           "'/><figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
}

void Report::config(const nlohmann::json& cfg) {
  body_ += "<details><summary>config.json</summary><pre>" + html_escape(cfg.dump(2)) +
           "</pre></details>\n";
}

std::string Report::html() const {
  return "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>" + html_escape(title_) +
         "</title><style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
         "text-align:right}img{image-rendering:pixelated;max-width:100%}"
         "figure{display:inline-block;margin:8px}</style></head><body>\n<h1>" +
         html_escape(title_) + "</h1>\n" + body_ + "</body></html>\n";
}

void Report::write(const std::string& path) const { write_file_atomic(path, html()); }

}  // namespace difflab::experiments
