// For benchmarks and fuzz targets: the advice case-svc pins, without a
// guidance-svc. One revision with one checklist step due within a day.
#ifndef COUNSEL_CASES_TESTING_FIXED_ADVICE_H_
#define COUNSEL_CASES_TESTING_FIXED_ADVICE_H_

#include <memory>
#include <string>

#include "case-svc/advice_source.h"

namespace counsel::cases {

class FixedAdvice final : public AdviceSource {
 public:
  explicit FixedAdvice(std::string revision_id) : revision_id_(std::move(revision_id)) {}

  absl::StatusOr<SharedAdvice> LatestFor(const std::string&, const std::string&) override {
    auto a = std::make_shared<guidance::v1::Advice>();
    a->set_name("advice/personal-information-leak");
    a->set_revision_id(revision_id_);
    auto* step = a->add_sections()->add_steps();
    step->set_key("change-passwords");
    step->set_title("更换重要密码");
    step->set_checklist(true);
    step->mutable_due_within()->set_seconds(86400);
    return SharedAdvice(std::move(a));
  }

 private:
  const std::string revision_id_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_TESTING_FIXED_ADVICE_H_
