// English and Chinese UI text. Elements carry data-i18n="key" (text), data-i18n-attr="attr:key,attr:key"
// and data-i18n-args='{"n": 3}', so switching the language re-renders every label already on the page.

const TEXT = {
  en: {
    "app.title": "myagent console",
    "app.console": "console",
    "lang.switch": "中文",
    "lang.switch_label": "切换到中文",
    "panel.toggle": "Session & plan",

    "conn.connecting": "Connecting…",
    "conn.online": "Connected",
    "conn.reconnecting": "Reconnecting in {s} s",
    "conn.reconnecting_now": "Reconnecting…",
    "conn.retry": "Retry now",
    "conn.lost_line": "Connection lost. Reconnecting…",
    "conn.back_line": "Connection restored",
    "conn.back_line_replayed": "Connection restored · {n} missed events delivered",

    "empty.title": "Ask the agent anything",
    "empty.body": "Answers stream in as they are written. Tool calls, confirmations and charts appear in the conversation.",
    "empty.connecting": "Waiting for the server…",

    "composer.label": "Message to the agent",
    "composer.placeholder": "Ask the agent…",
    "composer.send": "Send",
    "composer.stop": "Stop",
    "composer.stop_label": "Stop the running answer (Escape)",
    "composer.hint": "Enter to send · Shift+Enter for a new line · Esc to stop",
    "composer.offline": "Not connected: the message can be sent once the connection is back.",

    "you": "You",
    "agent": "Agent",
    "turn.thinking": "Thinking…",
    "turn.thinking_step": "Thinking · step {n}",
    "turn.waiting_confirm": "Waiting for your confirmation…",
    "turn.stopped": "Stopped",
    "turn.stopped_reason": "Stopped ({reason})",
    "turn.failed": "The run failed",
    "turn.not_sent": "Not sent: {reason}",
    "turn.unfinished": "Not finished when the state was saved",
    "turn.steps": "{n} steps",
    "turn.step": "1 step",
    "turn.tokens": "{n} tokens",
    "turn.duration": "{s} s",

    "tool.arguments": "Arguments",
    "tool.result": "Result",
    "tool.data": "Data",
    "tool.running": "running",
    "tool.awaiting": "awaiting confirmation",
    "tool.success": "done",
    "tool.failed": "failed",
    "tool.ok": "done",
    "tool.error": "error",
    "tool.invalid_arguments": "invalid arguments",
    "tool.unknown_tool": "unknown tool",
    "tool.refused": "refused",
    "tool.expired": "expired",
    "tool.timeout": "timed out",
    "tool.cancelled": "cancelled",
    "tool.task": "Task {id}",
    "tool.expand": "Show details of {name}",
    "chat.task_titled": "Task {id} · {title}",
    "chat.planner": "Planner",
    "chat.worker": "{agent}",

    "chart.download": "PNG",
    "chart.download_label": "Download the chart as PNG",
    "chart.label": "Chart: {title}",
    "chart.failed": "The chart could not be drawn: {error}",

    "confirm.title_tool": "Allow this tool to run?",
    "confirm.title_plan": "Review the plan",
    "confirm.tool": "Tool",
    "confirm.arguments": "Arguments",
    "confirm.no_arguments": "No arguments",
    "confirm.note": "Note to the agent (optional)",
    "confirm.note_placeholder": "e.g. why you refuse, or what to do instead",
    "confirm.approve": "Approve",
    "confirm.refuse": "Refuse",
    "confirm.run_plan": "Run plan",
    "confirm.reject_plan": "Reject",
    "confirm.replan": "Plan again",
    "confirm.expires_in": "Expires in {t}",
    "confirm.expired": "Expired: counted as a refusal",
    "confirm.queue": "{i} of {n}",
    "confirm.hint": "Enter to approve · Esc to refuse · Tab to move",
    "confirm.offline": "Not connected: you can answer once the connection is back.",
    "confirm.resent": "Asked again after a reconnect",
    "confirm.task": "Task {n}",
    "confirm.task_title": "Title",
    "confirm.task_objective": "Objective",
    "confirm.remove_task": "Remove",
    "confirm.remove_task_label": "Remove task {n}",
    "confirm.add_task": "Add task",
    "confirm.plan_summary": "Summary",
    "confirm.tasks": "Tasks",
    "confirm.edited": "edited",
    "confirm.no_tasks": "No tasks: add one, or reject the plan.",

    "session.heading": "Session",
    "session.none": "No session yet",
    "session.id": "Session",
    "session.agent": "Agent",
    "session.state": "State",
    "session.idle": "idle",
    "session.running": "running",
    "session.new": "New session",
    "session.save": "Save",
    "session.save_label": "Save the signed session state in this browser",
    "session.restore": "Restore",
    "session.restore_label": "Restore the session saved in this browser",
    "session.download": "Export",
    "session.download_label": "Download the signed session state as a JSON file",
    "session.import": "Import…",
    "session.import_label": "Restore a session from an exported JSON file",
    "session.autosave": "Save automatically after each answer",
    "session.saved_at": "Saved {time} · {n} messages",
    "session.saved_at_time": "Saved {time}",
    "session.saved_encrypted": "encrypted",
    "session.nothing_saved": "Nothing saved in this browser yet",
    "session.copy_id": "Copy the session id",

    "banner.offer": "A saved session from {time} is available ({n} messages).",
    "banner.offer_time": "A saved session from {time} is available.",
    "banner.restore": "Restore",
    "banner.new": "Start new",
    "banner.discard": "Discard",
    "banner.lost": "The server no longer has this session (it expired, or the server restarted).",
    "banner.lost_restore": "Restore saved state",
    "banner.ended": "The session has ended ({reason}).",
    "banner.taken": "This session was opened in another window or tab.",
    "banner.take_back": "Use it here",
    "banner.dismiss": "Dismiss",

    "notice.saved": "Session state saved in this browser",
    "notice.saved_no_transcript": "State saved; the conversation was too large to keep on screen after a restore",
    "notice.restored": "Session restored · {n} messages",
    "notice.reattached": "Session re-attached · conversation continues",
    "notice.restore_failed": "Could not restore the session: {reason}",
    "notice.encrypted_transcript": "The saved state is encrypted; earlier messages are not shown here",
    "notice.replay_gap": "Events {from}–{to} are no longer on the server and are missing here",
    "notice.import_failed": "That file is not an exported session state",
    "notice.error": "Error: {message}",
    "notice.copied": "Copied",
    "notice.control_failed": "{action}: {message}",

    "plan.heading": "Plan",
    "plan.question": "Question",
    "plan.summary": "Summary",
    "plan.tasks": "Tasks",
    "plan.phase.planning": "Planning…",
    "plan.phase.planned": "Plan ready",
    "plan.phase.review": "Waiting for review",
    "plan.phase.solving": "Solving",
    "plan.phase.aggregating": "Combining results",
    "plan.phase.done": "Done",
    "plan.phase.cancelled": "Cancelled",
    "plan.phase.failed": "Invalid tasks",
    "plan.progress": "{done} of {n} tasks finished",
    "plan.status.pending": "pending",
    "plan.status.running": "running",
    "plan.status.completed": "completed",
    "plan.status.failed": "failed",
    "plan.status.cancelled": "cancelled",
    "plan.cancel_task": "Cancel",
    "plan.cancel_task_label": "Cancel task {id}: {title}",
    "plan.restart_task": "Restart",
    "plan.restart_task_label": "Restart task {id}: {title}",
    "plan.cancel_plan": "Cancel plan",
    "plan.replan": "Plan again",
    "plan.aggregate": "Combined result",
    "plan.result": "Result",
    "plan.tokens": "{n} tokens",
    "plan.line.planning": "Planning the work…",
    "plan.line.planned": "Planned {n} tasks",
    "plan.line.task": "Task {id} · {title}: {status}",
    "plan.line.cancelled": "The plan was cancelled",
    "plan.line.coercion": "The tasks were not accepted: {error}",
    "plan.line.aggregating": "Combining the task results…",
    "plan.line.done": "Plan finished: {completed} completed, {failed} failed, {cancelled} cancelled",
  },
  zh: {
    "app.title": "myagent 控制台",
    "app.console": "控制台",
    "lang.switch": "EN",
    "lang.switch_label": "Switch to English",
    "panel.toggle": "会话与计划",

    "conn.connecting": "正在连接…",
    "conn.online": "已连接",
    "conn.reconnecting": "{s} 秒后重连",
    "conn.reconnecting_now": "正在重连…",
    "conn.retry": "立即重试",
    "conn.lost_line": "连接已断开，正在重连…",
    "conn.back_line": "连接已恢复",
    "conn.back_line_replayed": "连接已恢复 · 补发了 {n} 条错过的事件",

    "empty.title": "向智能体提问",
    "empty.body": "回答会边生成边显示。工具调用、确认请求和图表都会出现在对话中。",
    "empty.connecting": "正在等待服务器…",

    "composer.label": "发给智能体的消息",
    "composer.placeholder": "输入问题…",
    "composer.send": "发送",
    "composer.stop": "停止",
    "composer.stop_label": "停止当前回答（Esc）",
    "composer.hint": "Enter 发送 · Shift+Enter 换行 · Esc 停止",
    "composer.offline": "未连接：连接恢复后即可发送。",

    "you": "你",
    "agent": "智能体",
    "turn.thinking": "思考中…",
    "turn.thinking_step": "思考中 · 第 {n} 步",
    "turn.waiting_confirm": "等待你的确认…",
    "turn.stopped": "已停止",
    "turn.stopped_reason": "已停止（{reason}）",
    "turn.failed": "运行出错",
    "turn.not_sent": "未发送：{reason}",
    "turn.unfinished": "保存状态时尚未完成",
    "turn.steps": "{n} 步",
    "turn.step": "1 步",
    "turn.tokens": "{n} tokens",
    "turn.duration": "{s} 秒",

    "tool.arguments": "参数",
    "tool.result": "结果",
    "tool.data": "数据",
    "tool.running": "运行中",
    "tool.awaiting": "等待确认",
    "tool.success": "完成",
    "tool.failed": "失败",
    "tool.ok": "完成",
    "tool.error": "出错",
    "tool.invalid_arguments": "参数无效",
    "tool.unknown_tool": "未知工具",
    "tool.refused": "已拒绝",
    "tool.expired": "确认已过期",
    "tool.timeout": "已超时",
    "tool.cancelled": "已取消",
    "tool.task": "任务 {id}",
    "tool.expand": "展开 {name} 的详情",
    "chat.task_titled": "任务 {id} · {title}",
    "chat.planner": "规划",
    "chat.worker": "{agent}",

    "chart.download": "PNG",
    "chart.download_label": "下载图表（PNG）",
    "chart.label": "图表：{title}",
    "chart.failed": "图表无法绘制：{error}",

    "confirm.title_tool": "允许运行这个工具吗？",
    "confirm.title_plan": "审阅计划",
    "confirm.tool": "工具",
    "confirm.arguments": "参数",
    "confirm.no_arguments": "无参数",
    "confirm.note": "给智能体的备注（可选）",
    "confirm.note_placeholder": "例如拒绝的原因，或希望怎么做",
    "confirm.approve": "允许",
    "confirm.refuse": "拒绝",
    "confirm.run_plan": "执行计划",
    "confirm.reject_plan": "拒绝",
    "confirm.replan": "重新规划",
    "confirm.expires_in": "{t} 后过期",
    "confirm.expired": "已过期：视为拒绝",
    "confirm.queue": "第 {i} / {n} 个",
    "confirm.hint": "Enter 允许 · Esc 拒绝 · Tab 切换",
    "confirm.offline": "未连接：连接恢复后即可回答。",
    "confirm.resent": "重连后再次询问",
    "confirm.task": "任务 {n}",
    "confirm.task_title": "标题",
    "confirm.task_objective": "目标",
    "confirm.remove_task": "删除",
    "confirm.remove_task_label": "删除任务 {n}",
    "confirm.add_task": "添加任务",
    "confirm.plan_summary": "摘要",
    "confirm.tasks": "任务",
    "confirm.edited": "已修改",
    "confirm.no_tasks": "没有任务：请添加任务，或拒绝该计划。",

    "session.heading": "会话",
    "session.none": "尚未创建会话",
    "session.id": "会话",
    "session.agent": "智能体",
    "session.state": "状态",
    "session.idle": "空闲",
    "session.running": "运行中",
    "session.new": "新建会话",
    "session.save": "保存",
    "session.save_label": "把签名的会话状态保存在本浏览器",
    "session.restore": "恢复",
    "session.restore_label": "恢复保存在本浏览器的会话",
    "session.download": "导出",
    "session.download_label": "下载签名的会话状态（JSON 文件）",
    "session.import": "导入…",
    "session.import_label": "从导出的 JSON 文件恢复会话",
    "session.autosave": "每次回答后自动保存",
    "session.saved_at": "已保存 {time} · {n} 条消息",
    "session.saved_at_time": "已保存 {time}",
    "session.saved_encrypted": "已加密",
    "session.nothing_saved": "本浏览器中还没有保存的会话",
    "session.copy_id": "复制会话 ID",

    "banner.offer": "有一个保存于 {time} 的会话（{n} 条消息）。",
    "banner.offer_time": "有一个保存于 {time} 的会话。",
    "banner.restore": "恢复",
    "banner.new": "新建会话",
    "banner.discard": "丢弃",
    "banner.lost": "服务器上已没有这个会话（已过期，或服务器重启了）。",
    "banner.lost_restore": "从保存的状态恢复",
    "banner.ended": "会话已结束（{reason}）。",
    "banner.taken": "这个会话已在另一个窗口或标签页中打开。",
    "banner.take_back": "在这里继续",
    "banner.dismiss": "关闭",

    "notice.saved": "会话状态已保存在本浏览器",
    "notice.saved_no_transcript": "状态已保存；对话内容太大，恢复后不会显示之前的消息",
    "notice.restored": "会话已恢复 · {n} 条消息",
    "notice.reattached": "会话已重新接入 · 对话继续",
    "notice.restore_failed": "无法恢复会话：{reason}",
    "notice.encrypted_transcript": "保存的状态已加密，这里不显示之前的消息",
    "notice.replay_gap": "第 {from}–{to} 条事件已不在服务器上，这里缺失",
    "notice.import_failed": "这个文件不是导出的会话状态",
    "notice.error": "错误：{message}",
    "notice.copied": "已复制",
    "notice.control_failed": "{action}：{message}",

    "plan.heading": "计划",
    "plan.question": "问题",
    "plan.summary": "摘要",
    "plan.tasks": "任务",
    "plan.phase.planning": "规划中…",
    "plan.phase.planned": "计划就绪",
    "plan.phase.review": "等待审阅",
    "plan.phase.solving": "执行中",
    "plan.phase.aggregating": "汇总结果",
    "plan.phase.done": "已完成",
    "plan.phase.cancelled": "已取消",
    "plan.phase.failed": "任务无效",
    "plan.progress": "已完成 {done} / {n} 个任务",
    "plan.status.pending": "等待中",
    "plan.status.running": "运行中",
    "plan.status.completed": "已完成",
    "plan.status.failed": "失败",
    "plan.status.cancelled": "已取消",
    "plan.cancel_task": "取消",
    "plan.cancel_task_label": "取消任务 {id}：{title}",
    "plan.restart_task": "重新运行",
    "plan.restart_task_label": "重新运行任务 {id}：{title}",
    "plan.cancel_plan": "取消计划",
    "plan.replan": "重新规划",
    "plan.aggregate": "汇总结果",
    "plan.result": "结果",
    "plan.tokens": "{n} tokens",
    "plan.line.planning": "正在规划…",
    "plan.line.planned": "已规划 {n} 个任务",
    "plan.line.task": "任务 {id} · {title}：{status}",
    "plan.line.cancelled": "计划已取消",
    "plan.line.coercion": "任务未被接受：{error}",
    "plan.line.aggregating": "正在汇总各任务的结果…",
    "plan.line.done": "计划结束：完成 {completed} 个，失败 {failed} 个，取消 {cancelled} 个",
  },
};

const STORAGE_KEY = "myagent.console.lang";
let current = initialLanguage();

function initialLanguage() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === "en" || stored === "zh") return stored;
  } catch {
    // storage may be unavailable (privacy mode): fall through
  }
  const wanted = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return wanted.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function language() {
  return current;
}

/** The text for `key` with `{name}` placeholders filled from `args`. */
export function t(key, args = {}) {
  const template = TEXT[current][key] ?? TEXT.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in args ? argText(args[name]) : `{${name}}`));
}

/** An argument is shown as is, or translated when it is {$t: key} (so it follows language switches). */
function argText(value) {
  if (value && typeof value === "object" && typeof value.$t === "string") return t(value.$t);
  return String(value);
}

/** Mark `element` so its text is `t(key, args)` now and after every language switch. */
export function bindText(element, key, args) {
  element.dataset.i18n = key;
  if (args) element.dataset.i18nArgs = JSON.stringify(args);
  else delete element.dataset.i18nArgs;
  element.textContent = t(key, args);
  return element;
}

/** Like bindText for attributes: bindAttr(button, "aria-label", "composer.stop_label"). */
export function bindAttr(element, attribute, key, args) {
  const entries = parseAttrBindings(element.dataset.i18nAttr).filter(([name]) => name !== attribute);
  entries.push([attribute, key]);
  element.dataset.i18nAttr = entries.map(([name, k]) => `${name}:${k}`).join(",");
  if (args) element.dataset.i18nAttrArgs = JSON.stringify(args);
  element.setAttribute(attribute, t(key, args));
  return element;
}

function parseAttrBindings(value) {
  if (!value) return [];
  return value.split(",").map((pair) => pair.split(":"));
}

/** Re-render every bound text and attribute under `root`. */
export function applyLanguage(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const element of root.querySelectorAll("[data-i18n]")) {
    const args = element.dataset.i18nArgs ? JSON.parse(element.dataset.i18nArgs) : undefined;
    element.textContent = t(element.dataset.i18n, args);
  }
  for (const element of root.querySelectorAll("[data-i18n-attr]")) {
    const args = element.dataset.i18nAttrArgs ? JSON.parse(element.dataset.i18nAttrArgs) : undefined;
    for (const [attribute, key] of parseAttrBindings(element.dataset.i18nAttr)) {
      element.setAttribute(attribute, t(key, args));
    }
  }
}

export function setLanguage(lang) {
  current = lang === "zh" ? "zh" : "en";
  try {
    localStorage.setItem(STORAGE_KEY, current);
  } catch {
    // not persisted: fine
  }
  applyLanguage();
  document.dispatchEvent(new CustomEvent("languagechange", { detail: current }));
}

// Chinese shows the 24-hour clock ("14:05", never "下午02:05" or "02:05 PM"), whatever the browser's locale.
function clockOptions() {
  return current === "zh" ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } : { hour: "2-digit", minute: "2-digit" };
}

/** A date and time of day in the UI language. */
export function formatTime(date) {
  return new Intl.DateTimeFormat(current === "zh" ? "zh-CN" : "en", { month: "short", day: "numeric", ...clockOptions() }).format(date);
}

/** A time of day (hours and minutes) in the UI language. */
export function formatClock(date) {
  return new Intl.DateTimeFormat(current === "zh" ? "zh-CN" : "en", clockOptions()).format(date);
}
