// Chinese first; English on request. Only interface text lives here: case
// content and statute text are shown as stored.

const STRINGS = {
  "zh-CN": {
    skip: "跳到正文", nav: "主导航", triage: "分诊", deadlines: "期限", clusters: "聚类",
    figures: "统计", statutes: "法条", audit: "审计", signIn: "登录", signOut: "退出",
    apiKey: "API 密钥", signInHelp: "粘贴一次密钥，换取会话；页面不保存密钥。",
    tenant: "律所", scopes: "权限", live: "实时", reconnecting: "重新连接中", connecting: "连接中",
    language: "English", case: "案件", client: "当事人", severity: "严重程度", state: "状态",
    age: "天数", leaked: "泄露信息", assignee: "承办人", actions: "操作", assign: "分配",
    moveTo: "转为", more: "更多", none: "无", all: "全部", filter: "筛选",
    overdue: "已逾期", dueSoon: "即将到期（7 天内）", due: "到期", item: "事项",
    limitation: "诉讼时效 90 天内届满（民法典 第一百八十八条）", endsOn: "届满日",
    source: "疑似来源", count: "数量", unknownSource: "（未填）",
    byState: "按状态", byLeaked: "按泄露信息", medianAge: "未结案件中位天数",
    perWeek: "近 90 天每周新增案件", total: "案件总数",
    verify: "校验审计链", verifyOk: "审计链完整", verifyBad: "审计链损坏", head: "链头",
    entries: "条目", checklist: "清单", evidence: "证据", notes: "备注", timeline: "时间线",
    advice: "建议步骤", cited: "所引法条（事发日有效文本）", asOf: "日期", tick: "完成",
    skipItem: "跳过", download: "下载", sha256: "SHA-256", stale: "引用已失效", caveat: "日期未经确认",
    statute: "法律", provision: "条文", open: "打开", compare: "比较版本", from: "自", to: "至",
    changes: "变化", noChanges: "无变化", masked: "已遮蔽（需 cases.pii 权限）",
    signedOut: "已退出", saved: "已保存", error: "出错", loading: "加载中…",
    kind: "类型", counterpart: "对方", summary: "摘要", attachment: "附件", when: "时间",
    capped: "案件过多：以下只含最近的 3000 个未结案件，请用筛选缩小范围。",
    openCase: "打开案件", readOnly: "只读：此密钥不能修改", severityNames: ["", "低", "中", "高", "危急"],
  },
  en: {
    skip: "Skip to content", nav: "Main", triage: "Triage", deadlines: "Deadlines",
    clusters: "Clusters", figures: "Figures", statutes: "Statutes", audit: "Audit",
    signIn: "Sign in", signOut: "Sign out", apiKey: "API key",
    signInHelp: "Paste a key once for a session; the page does not keep the key.",
    tenant: "Firm", scopes: "Scopes", live: "Live", reconnecting: "Reconnecting",
    connecting: "Connecting", language: "中文", case: "Case", client: "Client",
    severity: "Severity", state: "State", age: "Days", leaked: "Leaked data",
    assignee: "Assignee", actions: "Actions", assign: "Assign", moveTo: "Move to", more: "More",
    none: "None", all: "All", filter: "Filter", overdue: "Overdue", dueSoon: "Due within 7 days",
    due: "Due", item: "Item",
    limitation: "Limitation period ends within 90 days (Civil Code art. 188)", endsOn: "Ends on",
    source: "Suspected source", count: "Count", unknownSource: "(not given)",
    byState: "By state", byLeaked: "By leaked data", medianAge: "Median age of open cases (days)",
    perWeek: "New cases per week, last 90 days", total: "Cases",
    verify: "Verify the audit log", verifyOk: "Audit chain intact", verifyBad: "Audit chain broken",
    head: "Head", entries: "Entries", checklist: "Checklist", evidence: "Evidence",
    notes: "Notes", timeline: "Timeline", advice: "Advice steps",
    cited: "Cited provisions (text in force on the incident date)", asOf: "As of", tick: "Done",
    skipItem: "Skip", download: "Download", sha256: "SHA-256", stale: "Citation stale", caveat: "Date unconfirmed",
    statute: "Statute", provision: "Provision", open: "Open", compare: "Compare versions",
    from: "From", to: "To", changes: "Changes", noChanges: "No changes",
    masked: "Masked (needs cases.pii)", signedOut: "Signed out", saved: "Saved", error: "Error",
    loading: "Loading…",
    kind: "Kind", counterpart: "Counterpart", summary: "Summary", attachment: "Attachment",
    when: "When",
    capped: "Too many cases: only the newest 3,000 open cases are included; narrow with a filter.",
    openCase: "Open case", readOnly: "Read only: this key cannot change cases",
    severityNames: ["", "Low", "Medium", "High", "Critical"],
  },
};

const STATES = {
  STATE_NEW: ["新案件", "New"], STATE_TRIAGED: ["已分诊", "Triaged"],
  STATE_IN_PROGRESS: ["处理中", "In progress"], STATE_REPORTED_TO_POLICE: ["已报警", "Reported to police"],
  STATE_IN_LITIGATION: ["诉讼中", "In litigation"], STATE_RESOLVED: ["已解决", "Resolved"],
  STATE_CLOSED: ["已结案", "Closed"],
};
const LEAKED = {
  LEAKED_DATA_PHONE: ["手机号", "Phone"], LEAKED_DATA_NATIONAL_ID: ["身份证号", "National ID"],
  LEAKED_DATA_BANK_ACCOUNT: ["银行账户", "Bank account"], LEAKED_DATA_ADDRESS: ["住址", "Address"],
  LEAKED_DATA_EMAIL: ["邮箱", "Email"], LEAKED_DATA_ACCOUNT_CREDENTIALS: ["账号密码", "Credentials"],
  LEAKED_DATA_BIOMETRIC: ["生物识别", "Biometric"], LEAKED_DATA_LOCATION: ["位置", "Location"],
  LEAKED_DATA_OTHER: ["其他", "Other"],
};

let lang = localStorage.getItem("counsel.lang") === "en" ? "en" : "zh-CN";

export function t(key) {
  return STRINGS[lang][key] ?? key;
}
export function language() {
  return lang;
}
export function toggleLanguage() {
  lang = lang === "en" ? "zh-CN" : "en";
  localStorage.setItem("counsel.lang", lang);  // the one thing stored: a preference
  document.documentElement.lang = lang;
}
export function stateName(s) {
  return (STATES[s] || [s, s])[lang === "en" ? 1 : 0];
}
export function leakedName(d) {
  return (LEAKED[d] || [d, d])[lang === "en" ? 1 : 0];
}
export function severityName(s) {
  const n = { SEVERITY_LOW: 1, SEVERITY_MEDIUM: 2, SEVERITY_HIGH: 3, SEVERITY_CRITICAL: 4 }[s] || 0;
  return t("severityNames")[n] || s;
}
export const STATE_ORDER = Object.keys(STATES);
export const LEAKED_KINDS = Object.keys(LEAKED);
