// Severity of a case, derived from what leaked (docs/cases.md):
//   CRITICAL  biometric data; national id with a bank account; credentials
//             with a bank account (money can be taken, identity cannot be
//             changed)
//   HIGH      national id, bank account or credentials
//   MEDIUM    address or location (physical risk), or two or more categories
//   LOW       anything else (a phone number or e-mail alone)
#ifndef COUNSEL_CASES_DOMAIN_SEVERITY_H_
#define COUNSEL_CASES_DOMAIN_SEVERITY_H_

#include "counsel/cases/v1/cases.pb.h"

namespace counsel::cases {

v1::Severity DeriveSeverity(const google::protobuf::RepeatedField<int>& leaked_data);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_DOMAIN_SEVERITY_H_
