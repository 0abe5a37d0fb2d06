#include "runtime/io/light_curves.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <stdexcept>

#include "runtime/io/csv.h"
#include "runtime/io/fits.h"
#include "runtime/io/tensor_file.h"

namespace starc {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Accepted spellings (lower case) of each column, the first the documented one.
const std::vector<std::vector<std::string>> kNames = {{"mjd", "time"},
                                                      {"band", "passband", "filter"},
                                                      {"flux", "fluxcal"},
                                                      {"flux_err", "fluxerr", "fluxcalerr"},
                                                      {"object_id", "objid", "snid"},
                                                      {"ra"},
                                                      {"dec", "decl"},
                                                      {"mwebv", "ebv"},
                                                      {"hostgal_photoz", "photoz", "host_photoz"}};
enum Col { kMjd, kBand, kFlux, kErr, kObject, kRa, kDec, kEbv, kPhotoz, kCols };

// One table's cells as text, by Col (empty: the table has no such column), and where
// each row is ("file:LINE" or "file row R").
struct Table {
  std::string file;
  std::vector<std::string> header, where;
  std::vector<std::vector<std::string>> cells;
};

std::vector<std::string> pick(const std::vector<std::string>& header, std::vector<int>* found) {
  std::vector<std::string> chosen;
  for (size_t c = 0; c < kCols; ++c) {
    (*found)[c] = -1;
    for (auto& alias : kNames[c])
      for (size_t h = 0; h < header.size() && (*found)[c] < 0; ++h)
        if (lower(header[h]) == alias) (*found)[c] = int(chosen.size()), chosen.push_back(header[h]);
  }
  return chosen;
}

Table read_table(const std::string& file) {
  Table t;
  t.file = file;
  TensorSpec spec = parse_tensor_spec(file);
  std::vector<int> found(kCols);
  if (spec.format == TensorFormat::Csv) {
    CsvText head = read_csv_text(file, {});
    std::vector<std::string> chosen = pick(head.header, &found);
    CsvText text = read_csv_text(file, chosen);
    t.header = head.header;
    for (int line : text.lines) t.where.push_back(fmt::format("{}:{}", file, line));
    for (size_t c = 0; c < kCols; ++c)
      t.cells.push_back(found[c] < 0 ? std::vector<std::string>{} : text.cells[size_t(found[c])]);
    return t;
  }
  if (spec.format != TensorFormat::Fits)
    throw std::runtime_error(fmt::format("{}: a light-curve table is CSV or a FITS binary table", file));
  std::vector<FitsColumnInfo> cols = fits_table_columns(file);
  for (auto& c : cols) t.header.push_back(c.name);
  std::vector<std::string> chosen = pick(t.header, &found);
  for (size_t c = 0; c < kCols; ++c) {
    if (found[c] < 0) {
      t.cells.emplace_back();
      continue;
    }
    const std::string& name = chosen[size_t(found[c])];
    bool text = std::find_if(cols.begin(), cols.end(), [&](auto& x) { return x.name == name; })->text;
    if (text) {
      t.cells.push_back(read_fits_text_column(file, name));
    } else if (c == kObject) {
      std::vector<std::string> ids;
      for (int64_t v : read_fits_int64_column(file, name)) ids.push_back(std::to_string(v));
      t.cells.push_back(ids);
    } else {
      Tensor v = read_fits_columns(file, {name}, DType::F64);
      if (v.dim(1) != 1)
        throw std::runtime_error(
            fmt::format("{}: column '{}' has {} values a row; one expected", file, name, v.dim(1)));
      std::vector<std::string> s;
      for (int64_t r = 0; r < v.dim(0); ++r) s.push_back(fmt::format("{:.17g}", v.get(r)));
      t.cells.push_back(s);
    }
  }
  for (size_t r = 0; r < t.cells[kMjd].size(); ++r) t.where.push_back(fmt::format("{} row {}", file, r));
  return t;
}

double number(const Table& t, Col c, size_t row) {
  const std::string& s = t.cells[c][row];
  double v = 0;
  const char* b = s.data() + (s.rfind('+', 0) == 0 ? 1 : 0);
  auto [end, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    throw std::runtime_error(fmt::format("{}: column '{}' is '{}', not a number", t.where[row], kNames[c][0], s));
  return v;
}

// The band's index in the layout, or -1: a name ('g', 'lsstg', 'ztf_g': its last letter)
// or a PLAsTiCC passband number 0-5 (u g r i z y).
int band_index(const std::string& cell, const LightCurveLayout& layout) {
  std::string b = lower(cell);
  if (b.size() == 1 && b[0] >= '0' && b[0] <= '5') b = std::string(1, "ugrizy"[b[0] - '0']);
  if (b.empty()) return -1;
  for (size_t i = 0; i < layout.bands.size(); ++i)
    if (b == layout.bands[i] || b.back() == layout.bands[i].back()) return int(i);
  return -1;
}

struct Obs {
  double mjd, flux, err;
  int band;
  size_t row;
};

// One object's rows into `out` (epochs x width): epochs by night, bands aligned.
void align(const Table& t, std::vector<Obs> obs, const LightCurveLayout& layout, float* out, LightCurveObject& info) {
  std::stable_sort(obs.begin(), obs.end(), [](const Obs& a, const Obs& b) { return a.mjd < b.mjd; });
  const size_t B = layout.bands.size(), W = 1 + 2 * B + 4;
  std::vector<std::vector<const Obs*>> nights;
  for (const Obs& o : obs)
    if (nights.empty() || o.mjd - nights.back().front()->mjd >= layout.night_days)
      nights.push_back({&o});
    else
      nights.back().push_back(&o);
  info.epochs = std::min<int64_t>(int64_t(nights.size()), layout.epochs);
  info.dropped_epochs = int64_t(nights.size()) - info.epochs;
  nights.resize(size_t(info.epochs));
  // Per epoch and band: inverse-variance mean, or none.
  std::vector<double> time(nights.size()), flux(nights.size() * B, 0), err(nights.size() * B, 0);
  std::vector<bool> has(nights.size() * B, false);
  for (size_t e = 0; e < nights.size(); ++e) {
    double sum_t = 0;
    std::vector<double> wsum(B, 0), fsum(B, 0);
    for (const Obs* o : nights[e]) {
      sum_t += o->mjd;
      if (!(o->err > 0) || !std::isfinite(o->err) || !std::isfinite(o->flux))
        throw std::runtime_error(fmt::format("{}: flux {} with flux_err {}: an error must be positive and finite",
                                             t.where[o->row], o->flux, o->err));
      double w = 1 / (o->err * o->err);
      wsum[size_t(o->band)] += w, fsum[size_t(o->band)] += w * o->flux;
    }
    time[e] = sum_t / double(nights[e].size());
    for (size_t b = 0; b < B; ++b)
      if (wsum[b] > 0)
        flux[e * B + b] = fsum[b] / wsum[b], err[e * B + b] = 1 / std::sqrt(wsum[b]), has[e * B + b] = true;
  }
  for (size_t b = 0; b < B; ++b)
    for (size_t e = 0; e < nights.size(); ++e) {
      if (has[e * B + b]) continue;
      std::optional<size_t> before, after;
      for (size_t k = e; k-- > 0;)
        if (has[k * B + b]) {
          before = k;
          break;
        }
      for (size_t k = e + 1; k < nights.size(); ++k)
        if (has[k * B + b]) {
          after = k;
          break;
        }
      if (before && after) {
        double u = (time[e] - time[*before]) / (time[*after] - time[*before]);
        flux[e * B + b] = (1 - u) * flux[*before * B + b] + u * flux[*after * B + b];
        err[e * B + b] = std::max(err[*before * B + b], err[*after * B + b]);
        ++info.interpolated;
      } else if (before || after) {
        size_t k = before ? *before : *after;
        flux[e * B + b] = flux[k * B + b], err[e * B + b] = err[k * B + b];
        ++info.held;
      }
    }
  double meta[4] = {0, 0, 0, 0};
  for (int m = 0; m < 4; ++m) {
    Col c = Col(kRa + m);
    if (t.cells[c].empty())
      info.missing_meta.push_back(kNames[c][0]);
    else if (!obs.empty())
      meta[m] = number(t, c, obs.front().row);
  }
  for (size_t e = 0; e < nights.size(); ++e) {
    float* row = out + e * W;
    row[0] = float((time[e] - time[0]) / layout.time_scale);
    for (size_t b = 0; b < B; ++b) row[1 + b] = float(flux[e * B + b]), row[1 + B + b] = float(err[e * B + b]);
    for (int m = 0; m < 4; ++m) row[1 + 2 * B + size_t(m)] = float(meta[m]);
  }
}

}  // namespace

LightCurves read_light_curves(const std::vector<std::string>& files, const LightCurveLayout& layout) {
  const int64_t W = 1 + 2 * int64_t(layout.bands.size()) + 4;
  std::vector<float> data;
  LightCurves out;
  for (auto& file : files) {
    Table t = read_table(file);
    for (Col c : {kMjd, kBand, kFlux, kErr})
      if (t.cells[c].empty())
        throw std::runtime_error(
            fmt::format("{}: no column '{}' (a light-curve table needs mjd, band, flux, flux_err; "
                        "it has: {})",
                        file, kNames[c][0], fmt::join(t.header, ", ")));
    std::vector<std::string> order;  // object ids in order of first appearance
    std::map<std::string, std::vector<Obs>> by_object;
    std::map<std::string, int64_t> other;
    for (size_t r = 0; r < t.where.size(); ++r) {
      std::string id = t.cells[kObject].empty() ? "" : t.cells[kObject][r];
      if (!by_object.count(id)) order.push_back(id), by_object[id];
      int b = band_index(t.cells[kBand][r], layout);
      if (b < 0) {
        ++other[id];
        continue;
      }
      by_object[id].push_back({number(t, kMjd, r), number(t, kFlux, r), number(t, kErr, r), b, r});
    }
    for (auto& id : order) {
      LightCurveObject info;
      info.file = file, info.id = id, info.observations = int64_t(by_object[id].size()), info.other_bands = other[id];
      if (by_object[id].empty())
        throw std::runtime_error(
            fmt::format("{}: object '{}' has no observation in the bands {}", file, id, fmt::join(layout.bands, ", ")));
      size_t at = data.size();
      data.resize(at + size_t(layout.epochs * W), 0.0f);
      align(t, by_object[id], layout, data.data() + at, info);
      out.objects.push_back(std::move(info));
    }
  }
  out.lc = Tensor(DType::F32, {int64_t(out.objects.size()), layout.epochs, W});
  std::copy(data.begin(), data.end(), out.lc.data<float>());
  return out;
}

}  // namespace starc
