"""Labels in zh-CN and en: interface text, data values of the contract's enumerations; metric names come from
the metric declarations (queries.metrics), never from here."""

from __future__ import annotations

import polars as pl

from queries.metrics.registry import METRICS

LANGS = ("zh", "en")

# key → (中文, English). Keep keys short and stable: tests look labels up through t().
_LABELS: dict[str, tuple[str, str]] = {
    # shell
    "app_title": ("催收监控看板", "Collections supervisor dashboard"),
    "lang": ("语言", "Language"),
    "filters": ("筛选", "Filters"),
    "filters_button": ("筛选与页面", "Filters & pages"),
    "period": ("日期范围", "Date range"),
    "dates": ("自定义日期", "Custom dates"),
    "team": ("团队", "Team"),
    "agent": ("坐席", "Agent"),
    "bucket": ("账龄", "Bucket"),
    "product": ("产品", "Product"),
    "region": ("地区", "Region"),
    "channel": ("渠道", "Channel"),
    "all": ("全部", "All"),
    "data_as_of": ("数据截至", "Data as of"),
    "synced_at": ("同步于", "synced"),
    "reconciled": ("已与案件库核对一致", "reconciled with the case database"),
    "recon_bad": ("与案件库核对不一致：{n} 天的笔数或金额不符（{days}）。数字可能不完整，请运行 "
                  "`collections-dashboard sync --full`。",
                  "Store does not reconcile with the case database on {n} day(s) ({days}). Figures may be "
                  "incomplete; run `collections-dashboard sync --full`."),
    "recon_unknown": ("尚未核对", "not yet reconciled"),
    "demo": ("演示数据：运行在自动生成的演示案件库上，人员与金额均为虚构。",
             "Demo data: generated demo case database; every person and amount is fictitious."),
    "store_rolled_back": ("分析库当前版本已损坏，已改用上一个完好的版本；下次同步会补齐数据。详情：{note}",
                          "The analytics store's latest version was unreadable, so the previous good version is "
                          "served; the next sync brings it up to date. Details: {note}"),
    "sync_failed_source": ("案件库暂时无法连接（{err}），正在使用 {at} 同步的分析库。恢复连接后将自动更新。",
                           "The case database is unreachable ({err}); serving the analytics store synced at {at}. "
                           "It refreshes once the database is back."),
    "sync_failed_data": ("案件库中有不符合数据契约的记录，本次同步未完成（{err}）。正在使用 {at} 同步的分析库；请运行 "
                         "`collections-dashboard doctor` 找出并更正这些记录。",
                         "Rows in the case database break the data contract, so the sync stopped ({err}). Serving "
                         "the analytics store synced at {at}; run `collections-dashboard doctor` to find and correct "
                         "them."),
    "sync_failed_store": ("分析库无法写入，本次同步未完成（{err}）。正在使用 {at} 同步的分析库；请释放磁盘空间或检查 "
                          "CASES_STORE_DIR 的权限。",
                          "The analytics store cannot be written, so the sync stopped ({err}). Serving the store "
                          "synced at {at}; free disk space or check the permissions of CASES_STORE_DIR."),
    "sync_failed_killed": ("同步进程中途停止（{err}），分析库未改动，正在使用 {at} 同步的版本；下次同步会重试。",
                           "The sync process stopped before it finished ({err}); the store is unchanged and the "
                           "version synced at {at} is served. The next sync tries again."),
    "sync_failed_rules": ("自定义规则文件有误，本次同步未完成（{err}）。仍按上一版有效规则判定，正在使用 {at} 同步的分析库；"
                          "请更正 CASES_RULES_DIR 中的文件。",
                          "A house rule file is invalid, so the sync stopped ({err}). The previous valid rules stay in "
                          "force and the analytics store synced at {at} is served; correct the file in "
                          "CASES_RULES_DIR."),
    "sync_failed_bug": ("同步意外失败（{err}），正在使用 {at} 同步的分析库。请把错误编号告知看板管理员（详情见服务器日志）。",
                        "The sync failed unexpectedly ({err}); serving the analytics store synced at {at}. Please "
                        "give the error id to the dashboard administrator (details are in the server log)."),
    "db_down": ("无法读取案件库，也没有可用的分析库：{err}  \n检查 `CASES_DB_URL` 或 `.streamlit/secrets.toml` 中的 "
                "`[connections.cases] url`，并确认数据库在运行。",
                "Cannot read the case database and no analytics store exists yet: {err}  \nCheck `CASES_DB_URL` "
                "or `[connections.cases] url` in `.streamlit/secrets.toml` and that the database is running."),
    "bad_url": ("链接中的筛选条件无效，已改用默认视图：", "Some filters in the link were not valid; showing the "
                "default view instead of them:"),
    "empty": ("所选条件下没有数据。请放宽筛选条件（日期、团队、账龄等）。",
              "No data for these filters. Widen the date range or clear some selections."),
    "unavailable": ("此图需要的数据在案件库中不存在：{msg}", "The data this chart needs is not in the case "
                    "database: {msg}"),
    "download_csv": ("CSV", "CSV"),
    "download_xlsx": ("Excel", "Excel"),
    "click_hint": ("点击柱形或数据点查看对应案件", "Click a bar or point to see the cases behind it"),
    # identity, roles and audit
    "demo_mode": ("演示模式：角色可自由选择，仅用于演示", "Demo mode: role chosen freely (for demonstration only)"),
    "demo_role": ("演示角色", "Demo role"),
    "demo_teams": ("演示团队（组长）", "Demo teams (team lead)"),
    "demo_refused": ("已配置真实案件库，演示模式已停用：请通过单点登录（[auth]）或反向代理身份头（CASES_AUTH_HEADER）"
                     "登录。如确需演示模式，请设置 CASES_ALLOW_DEMO_MODE=1。",
                     "A real case database is configured, so demo mode is off: sign in through single sign-on "
                     "([auth]) or a reverse-proxy identity header (CASES_AUTH_HEADER). To allow demo mode anyway, "
                     "set CASES_ALLOW_DEMO_MODE=1."),
    "demo_store_real": ("分析库是从真实案件库同步的，但当前未配置案件库（CASES_DB_URL），因此不提供演示模式。请配置 CASES_DB_URL "
                        "并通过单点登录或代理身份头访问。",
                        "The analytics store was synced from a real case database, but no database is configured "
                        "(CASES_DB_URL), so demo mode is off. Configure CASES_DB_URL and sign in through single sign-on "
                        "or the proxy identity header."),
    "unknown_user": ("抱歉，{user} 尚未获得访问此看板的授权。如需开通，请联系看板管理员。",
                     "Sorry, {user} has not been given access to this dashboard. Please ask the dashboard "
                     "administrator to add you."),
    "no_identity": ("未能识别您的身份（缺少身份信息），无法显示数据。请通过公司门户重新进入。",
                    "We could not tell who you are (no identity was passed on), so no data is shown. Please "
                    "open the dashboard through the company portal."),
    "access_broken": ("访问权限文件有误，暂不显示任何数据。请联系看板管理员（详情见服务器日志）。",
                      "The access file has an error, so no data is shown. Please tell the dashboard administrator "
                      "(details are in the server log)."),
    "identity_ambiguous": ("身份信息重复或含糊（身份请求头出现多次），为安全起见拒绝访问。请通过公司门户重新进入。",
                           "The identity was sent more than once (the identity header appeared twice), so access is "
                           "refused for safety. Please open the dashboard through the company portal."),
    "sign_in": ("请登录后查看看板。", "Please sign in to see the dashboard."),
    "sign_in_btn": ("登录", "Sign in"),
    "sign_out_btn": ("退出登录", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "role": ("角色", "Role"),
    "r_executive": ("高管", "Executive"),
    "r_manager": ("催收经理", "Collection manager"),
    "r_team_lead": ("组长", "Team lead"),
    "r_compliance": ("合规", "Compliance"),
    "scope_teams": ("可见团队", "Teams in view"),
    "scope_all": ("全部团队", "all teams"),
    "reveal_pii": ("显示完整个人信息（合规查阅，将记入审计日志）", "Show full personal data (compliance review; "
                   "recorded in the audit log)"),
    "pg_audit": ("审计日志", "Audit log"),
    "audit_only": ("审计日志仅对合规角色开放。", "The audit log is open to the compliance role only."),
    "audit_chain_ok": ("哈希链校验通过：日志未被修改或删除。", "Hash chain verified: no entry edited or removed."),
    "audit_chain_bad": ("哈希链校验失败，日志可能被修改：", "Hash chain broken; the log may have been tampered with:"),
    "audit_dates": ("日期", "Dates"),
    "audit_action": ("操作", "Action"),
    "audit_user": ("用户", "User"),
    "audit_total": ("共 {n} 条记录", "{n} entries"),
    "audit_failed": ("审计日志暂时无法写入，为确保每次查看都有记录，本页面暂不显示数据。请联系看板管理员（详情见服务器日志）。",
                     "The audit log cannot be written right now, so no data is shown: every view must be recorded. "
                     "Please tell the dashboard administrator (details are in the server log)."),
    "bug": ("页面出现意外错误（错误编号 {id}）。请把错误编号告知看板管理员；详情已记录在服务器日志中。",
            "Something went wrong on this page (error id {id}). Please give the error id to the dashboard "
            "administrator; the details are in the server log."),
    "unknown_param": ("未知参数", "unknown parameter"),
    # daily digest and alerts pushed by queries/notify (e-mail, WeCom, DingTalk, Feishu)
    "n_title": ("催收日报 · {day}", "Collections daily digest · {day}"),
    "n_for": ("{who}（{role}）· {scope}", "{who} ({role}) · {scope}"),
    "n_headline": ("回收与目标", "Collected against target"),
    "n_yesterday": ("昨日回收", "Collected yesterday"),
    "n_target": ("本月目标", "Monthly target"),
    "n_pace": ("进度", "Pace"),
    "n_workday": ("本月第 {n} 个工作日（共 {total} 个）", "Working day {n} of {total} this month"),
    "n_behind": ("落后进度的团队", "Teams behind pace"),
    "n_none_behind": ("没有团队落后于进度。", "No team is behind pace."),
    "n_top": ("本月回收最多的坐席", "Top agents this month"),
    "n_bottom": ("本月回收最少的坐席", "Bottom agents this month"),
    "n_agents_chart": ("本月各坐席回收（前 10 名）", "Collected by agent this month (top 10)"),
    "n_ptp": ("今日到期承诺", "PTPs due today"),
    "n_ptp_line": ("{n} 笔，合计 {amount}", "{n}, {amount} in all"),
    "n_complaints": ("昨日新增投诉", "New complaints yesterday"),
    "n_complaints_line": ("共 {n} 件，其中 12378 监管投诉 {r} 件", "{n} in all, {r} through the regulator's 12378 "
                          "hotline"),
    "n_12378_agents": ("12378 投诉涉及的坐席", "Agents named in 12378 complaints"),
    "n_breaches": ("昨日违规", "Rule breaches yesterday"),
    "n_open": ("在看板中打开", "Open in the dashboard"),
    "n_charts_linked": ("图表请在看板中查看", "Charts: open the dashboard"),
    "n_stale": ("注意：分析库同步于 {at}，已超过 {minutes} 分钟未更新，数字可能不是最新。",
                "Note: the analytics store was synced at {at}, more than {minutes} minutes ago; the figures may "
                "not be current."),
    "n_data_behind": ("注意：数据只到 {as_of}，不含 {day}。", "Note: the data runs to {as_of} only, not {day}."),
    "n_part": ("第 {i}/{n} 部分", "part {i} of {n}"),
    "n_more_rows": ("另有 {n} 行，见看板", "{n} more rows in the dashboard"),
    "n_alert": ("预警：{rule}", "Alert: {rule}"),
    "n_alert_period": ("{metric}，{start} 至 {end}", "{metric}, {start} to {end}"),
    "n_alert_rule": ("条件：{column} {op} {threshold}", "Condition: {column} {op} {threshold}"),
    "n_value": ("数值", "Value"),
    "n_amount": ("金额", "Amount"),
    "n_due_amount": ("到期金额", "Amount due"),
    "n_numerator": ("分子", "Numerator"),
    "n_denominator": ("分母", "Denominator"),
    # presets
    "p_today": ("今天", "Today"),
    "p_yesterday": ("昨天", "Yesterday"),
    "p_last7": ("近 7 天", "Last 7 days"),
    "p_mtd": ("本月至今", "Month to date"),
    "p_last_month": ("上月", "Last month"),
    "p_qtd": ("本季至今", "Quarter to date"),
    "p_ytd": ("本年至今", "Year to date"),
    "p_custom": ("自定义", "Custom"),
    # channels
    "in_house": ("自营", "In-house"),
    "agency": ("委外", "Agency"),
    # pages
    "pg_daily": ("每日回收", "Daily recovery"),
    "pg_agents": ("坐席绩效", "Agent performance"),
    "pg_complaints": ("投诉监控", "Complaints"),
    "pg_aging": ("账龄与迁徙", "Aging & roll rates"),
    "pg_trends": ("月度趋势", "Monthly trends"),
    "pg_cases": ("案件明细", "Cases"),
    "pg_data": ("数据概况", "Data"),
    "pg_glossary": ("指标口径", "Glossary"),
    "pg_agencies": ("委外管理", "Agencies"),
    "sec_pages": ("看板", "Dashboards"),
    "sec_more": ("更多", "More"),
    # KPIs
    "k_today": ("今日回收", "Collected today"),
    "k_mtd": ("本月回收", "Collected MTD"),
    "k_achv": ("目标达成率", "Target achievement"),
    "k_pace": ("进度 {pace}", "pace {pace}"),
    "k_recovery": ("回收率", "Recovery rate"),
    "k_landing": ("月末落地预测 {landing}，80% 区间 {low}–{high}", "Month-end landing {landing}, 80%: {low}–{high}"),
    "k_landed": ("本月已结束，月末实收 {landing}", "The month is over: it closed at {landing}"),
    "k_p_target": ("达成目标概率 {p}", "P(target) = {p}"),
    "n_landing": ("{landing}（80% 区间 {low}–{high}）", "{landing} (80%: {low}–{high})"),
    "n_landed": ("{landing}（本月已结束）", "{landing} (the month is over)"),
    "k_landing_naive": ("按进度线性推算 {naive}", "straight pace projection {naive}"),
    "landing_low": ("落地下限（80%）", "Landing low (80%)"),
    "landing_high": ("落地上限（80%）", "Landing high (80%)"),
    "p_target": ("达成目标概率", "P(target)"),
    "agency_intro": ("各委外机构与自营团队按同一委案批次（案件月末归属转入的月份）比较：委案后第 n 个月的累计清收率，"
                     "而非占在催余额的比例。所选期间内的委案月份参与比较。",
                     "Agencies and in-house teams compared on the same placement vintages (the month a case's "
                     "month-end assignment moves to them): cumulative liquidation n months after placement, not a "
                     "share of the inventory. Placement months in the selected period are compared."),
    "agency_compliance_note": ("机构评分综合批次清收、撤案、投诉、每千次催收违规数与准入状态（白名单、年度评估），合规各项合计重于回收；"
                               "各机构白名单与评估明细及合规加权排名见页末「合规」部分（依据规则集）。",
                               "The agency score combines vintage liquidation, recalls, complaints, rule breaches per "
                               "1,000 attempts and standing (whitelist, yearly evaluation), compliance weighing more "
                               "than recovery; each agency's whitelist and evaluation details and the "
                               "compliance-weighted rank are in the Compliance section at the end of the page (judged "
                               "by the rule pack)."),
    "h_agency_compliance": ("合规", "Compliance"),
    "c_agency_score": ("委外机构评分", "Agency scorecard"),
    "c_agency_vintage": ("批次清收曲线", "Vintage liquidation curves"),
    "agency_month": ("委案月份", "Placement month"),
    "agency_none": ("所选期间没有委外委案。", "No placements with agencies in the selected period."),
    "holder": ("机构 / 团队", "Agency / team"),
    "kind": ("类型", "Kind"),
    "placed": ("委案户数", "Placed cases"),
    "placed_balance": ("委案余额", "Placed balance"),
    "liquidation_m3": ("3 个月清收率", "Liquidation at 3 months"),
    "per_100": ("每百元委案回收", "Recovered per ¥100 placed"),
    "recall_rate": ("撤案率", "Recall rate"),
    "transfer_rate": ("转委率", "Transfer rate"),
    "recalled": ("撤案户数", "Recalled"),
    "transferred": ("转委户数", "Transferred"),
    "complaints_per_10k": ("每万件投诉", "Complaints per 10,000 worked cases"),
    "breaches_per_1k": ("每千次违规", "Breaches per 1,000 attempts"),
    "status_ok": ("准入合规", "In good standing"),
    "commission": ("佣金成本", "Commission cost"),
    "net_recovery": ("净回收", "Net recovery"),
    "net_per_100": ("每百元委案净回收", "Net recovered per ¥100 placed"),
    "agency_fees_note": ("佣金成本 = 机构持有案件期间的每笔还款 × 还款当日适用的佣金比例；净回收 = 回收 − 佣金。",
                         "Commission cost = each payment collected while the agency held the case × the rate in force "
                         "on the payment's day; net recovery = collected − commission."),
    "agency_fees_absent": ("没有佣金成本与净回收：案件库没有可选的 agency_fees 表（各委外机构的佣金比例），或其中没有这些"
                           "机构的费率。加上该表（见数据约定）并同步后即显示。",
                           "No commission cost or net recovery: the case database has no optional agency_fees table "
                           "(each agency's commission rate), or it holds no rate for these agencies. Add the table "
                           "(see the data contract) and sync to show them."),
    "c_backtest": ("月末落地预测回测（过去 12 个月）", "Month-end landing backtest (last 12 months)"),
    "backtest_total": ("每个工作日所做预测与当月实际相比：平均绝对百分比误差 {mape}（按进度线性推算 {naive}），"
                       "80% 区间覆盖实际 {coverage}，共 {n} 次预测。",
                       "Forecasts made on each working day against the month's actual: mean absolute percentage "
                       "error {mape} (straight pace projection {naive}); the 80% interval held the actual {coverage} "
                       "of the time, over {n} forecasts."),
    "backtest_none": ("历史数据不足，无法回测。", "Too little history to backtest."),
    "mape": ("落地预测误差", "Landing forecast error"),
    "mape_naive": ("按进度推算误差", "Pace projection error"),
    "mape_axis": ("平均绝对百分比误差", "Mean absolute percentage error"),
    "coverage": ("80% 区间覆盖率", "80% interval coverage"),
    "working_day": ("当月第几个工作日", "Working day of the month"),
    "months_n": ("月数", "Months"),
    "forecasts": ("预测次数", "Forecasts"),
    "k_payments": ("还款笔数", "Payments"),
    "k_ptp_due": ("今日到期承诺", "PTPs due today"),
    "k_paying": ("还款户数", "Paying accounts"),
    "k_vs_lm": ("本月累计对比上月同期", "month to date vs the same days last month"),
    "k_no_target": ("无目标数据", "no targets"),
    "calendar_unknown": ("工作日历尚无 {years} 年的法定节假日安排，进度按周一至周五计算。",
                         "The working-day calendar has no public holidays for {years} yet: pace counts Monday to "
                         "Friday."),
    "k_period": ("所选期间", "Selected period"),
    # chart titles
    "c_daily": ("每日回收与累计对比目标", "Daily collected, cumulative vs target"),
    "c_by_team": ("各团队回收与达成率", "Collected and achievement by team"),
    "c_by_bucket": ("各账龄回收金额与回收率", "Collected and recovery rate by bucket"),
    "daily_bar": ("每日回收", "Daily collected"),
    "cumulative": ("累计回收", "Cumulative collected"),
    "target_line": ("月度目标", "Monthly target"),
    "achievement": ("达成率", "Achievement"),
    "day": ("日期", "Day"),
    "month": ("月份", "Month"),
    "week": ("周", "Week"),
    # agents page
    "c_leaderboard": ("坐席排行榜", "Agent leaderboard"),
    "c_scatter": ("投入与产出", "Effort vs result"),
    "c_funnel": ("催收漏斗：{agent} 对比团队中位数", "Funnel: {agent} vs team median"),
    "c_heatmap": ("各时段本人接通率", "RPC rate by hour of day"),
    "c_scorecard": ("坐席记分卡", "Agent scorecard"),
    "rank": ("排名", "Rank"),
    "lb_show": ("显示", "Show"),
    "lb_top": ("前 {n} 名", "Top {n}"),
    "lb_bottom": ("后 {n} 名", "Bottom {n}"),
    "lb_all": ("全部 {total} 人", "All {total}"),
    "lb_search": ("查找坐席", "Find an agent"),
    "lb_search_hint": ("工号或姓名", "ID or name"),
    "lb_no_match": ("没有工号或姓名包含“{q}”的坐席。", "No agent ID or name contains “{q}”."),
    "agent_name": ("坐席", "Agent"),
    "agent_id": ("工号", "Agent ID"),
    "trend": ("每日回收走势", "Daily collected"),
    "attempts": ("外呼/外访", "Attempts"),
    "contacts": ("接通", "Contacts"),
    "rpc": ("本人接通", "RPC"),
    "ptp": ("承诺", "PTP"),
    "kept": ("兑现", "Kept"),
    "paid": ("还款笔数", "Paid"),
    "complaints": ("投诉", "Complaints"),
    "choose_agent": ("选择坐席（或点击表格行/散点）", "Choose an agent (or click a table row / point)"),
    "this_agent": ("本坐席", "This agent"),
    "team_median": ("团队中位数", "Team median"),
    "median": ("中位数", "Median"),
    "hour": ("时段", "Hour"),
    "no_hourly": ("时段热力图只按坐席统计：请清除账龄、产品、地区筛选。", "The hour-of-day heatmap is by agent "
                  "only: clear the bucket, product and region selections."),
    # complaints page
    "c_by_category": ("各类别投诉", "Complaints by category"),
    "c_by_source": ("投诉来源（12378 监管单列）", "Complaints by source (regulator 12378 apart)"),
    "c_by_team_cmp": ("各团队投诉率", "Complaint rate by team"),
    "c_by_agent_cmp": ("投诉最多的坐席", "Agents with most complaints"),
    "c_weekly": ("每周投诉趋势", "Weekly complaints"),
    "c_open": ("未结投诉与处理时限", "Open complaints against SLA"),
    "k_complaints": ("投诉件数", "Complaints"),
    "k_rate": ("每万案件投诉", "Per 10k worked cases"),
    "k_rate_att": ("每万次外呼投诉", "Per 10k attempts"),
    "k_12378": ("12378 监管投诉", "Regulator 12378"),
    "k_open": ("未结投诉", "Open complaints"),
    "k_over_sla": ("超时限", "Over SLA"),
    "sla_days": ("处理时限（天）", "SLA (days)"),
    "age_days": ("已过天数", "Age (days)"),
    "per_10k": ("每万案件", "per 10k cases"),
    "count": ("件数", "Count"),
    "category": ("类别", "Category"),
    "source": ("来源", "Source"),
    "severity": ("严重程度", "Severity"),
    "received": ("收到时间", "Received"),
    "over_sla": ("超时", "Over SLA"),
    "no_open": ("所选条件下没有未结投诉。", "No open complaints for these filters."),
    # aging page
    "snapshot": ("快照日期", "Snapshot"),
    "basis": ("口径", "Basis"),
    "b_balance": ("余额", "Balance"),
    "b_count": ("户数", "Count"),
    "c_bucket_bal": ("各账龄余额与户数（{snap}）", "Balance and count by bucket ({snap})"),
    "c_roll_matrix": ("迁徙矩阵（{snap}，{basis}）", "Roll-rate matrix ({snap}, {basis})"),
    "c_roll_trend": ("迁徙率趋势", "Roll-rate trend"),
    "c_cure": ("回滚率（回到 M0 或结清）", "Cure rate (back to M0 or closed)"),
    "from_bucket": ("月初账龄", "From bucket"),
    "to_bucket": ("月末账龄", "To bucket"),
    "pairs": ("迁徙路径", "Bucket pairs"),
    "balance": ("余额", "Balance"),
    "cases_n": ("户数", "Cases"),
    "closed": ("结清", "closed"),
    "no_snapshots": ("所选期间内没有月末快照。", "No month-end snapshot in the selected period."),
    "aging_note": ("迁徙率与回滚率趋势取所选快照之前 12 个月的月末快照。",
                   "Roll and cure trends use the 12 month-end snapshots up to the chosen one."),
    # trends page
    "c_monthly": ("月度回收与回收率", "Monthly collected and recovery rate"),
    "c_mom": ("环比 / 同比", "MoM / YoY"),
    "c_vintage": ("清收曲线（按委案月份）", "Liquidation curves by placement month"),
    "c_channel": ("自营与委外对比", "In-house vs agency"),
    "mom": ("环比", "MoM"),
    "partial_month": ("{month} 尚未结束：环比、同比按同期（1–{day} 日）比较。",
                      "{month} is still running: MoM and YoY compare the same days (1st–{day})."),
    "yoy": ("同比", "YoY"),
    "months_since": ("委案后月数", "Months since placement"),
    "placed_month": ("委案月份", "Placement month"),
    "immature": ("未成熟（当月未满）", "immature (month not complete)"),
    "trend_note": ("月度趋势看所选期间涉及的整月；同比需要上一年同月的数据。",
                   "Monthly trends cover the whole months the period touches; YoY needs the same month a year "
                   "earlier."),
    # cases page
    "cases_title": ("案件明细", "Cases"),
    "cases_behind": ("下列案件对应：{what}", "Cases behind: {what}"),
    "cases_none": ("从任一图表点击柱形或数据点，即可查看对应案件。", "Click a bar or point on any chart to list the "
                   "cases behind it."),
    "cases_total": ("共 {n} 件", "{n} cases"),
    "page": ("页码", "Page"),
    "timeline": ("案件时间线：{case}", "Case timeline: {case}"),
    "open_case": ("选择一行查看案件时间线", "Select a row to open the case timeline"),
    "drill_unavailable": ("案件明细暂不可用：{msg}", "Case drill-down is not available: {msg}"),
    "back": ("返回", "Back"),
    "ev_cases": ("案件", "cases"),
    "ev_payments": ("还款", "payments"),
    "ev_contacts": ("催收记录", "contacts"),
    "ev_promises": ("承诺", "promises"),
    "ev_complaints": ("投诉", "complaints"),
    "ev_snapshot": ("快照案件", "snapshot cases"),
    "ev_placements": ("委案案件", "placed cases"),
    "ev_agency_placements": ("委案批次案件", "cases placed with"),
    # data + glossary
    "case_db": ("案件库概况", "Case database"),
    "source_db": ("来源", "Source"),
    "read_only": ("只读", "read-only"),
    "missing_tables": ("缺少必需的表：", "Required tables missing: "),
    "t_cases": ("案件", "Cases"),
    "t_contacts": ("催收记录", "Contacts"),
    "t_payments": ("还款笔数", "Payments"),
    "table": ("表", "Table"),
    "rows": ("行数", "Rows"),
    "first": ("最早", "First"),
    "last": ("最晚", "Last"),
    "store_state": ("分析库", "Analytics store"),
    "glossary_intro": ("每个指标只定义一次；看板、报表命令与导出都用同一口径。",
                       "Every metric is defined once; pages, the report command and exports use the same "
                       "definition."),
    "g_key": ("指标键（命令行）", "Key (command line)"),
    "value": ("值", "Value"),
    "g_name": ("指标", "Metric"),
    "g_rules": ("判定规则（版本、生效日）", "Judging rules (version, effective from)"),
    "g_def": ("口径", "Definition"),
    "g_num": ("分子", "Numerator"),
    "g_den": ("分母", "Denominator"),
    "total": ("合计", "Total"),
    # export headers and the filters sheet
    "through": ("截至", "Through"),
    "team_name": ("团队名称", "Team name"),
    "who_id": ("团队/坐席", "Team / agent"),
    "who_name": ("名称", "Name"),
    "expected": ("按进度应回收", "Expected by today"),
    "pace": ("进度", "Pace"),
    "opening_balance": ("月初余额", "Opening balance"),
    "mom_pp": ("环比（百分点）", "MoM (pp)"),
    "yoy_pp": ("同比（百分点）", "YoY (pp)"),
    "stage": ("环节", "Stage"),
    "thin_cell": ("样本不足", "Too few attempts"),
    "complaint_id": ("投诉编号", "Complaint ID"),
    "case_id": ("案件编号", "Case ID"),
    "customer": ("客户", "Customer"),
    "phone": ("电话", "Phone"),
    "account": ("账号", "Account"),
    "status": ("状态", "Status"),
    "dpd": ("逾期天数", "DPD"),
    "events": ("笔数", "Events"),
    "amount": ("金额", "Amount"),
    "at": ("时间", "Time"),
    "event_kind": ("类型", "Type"),
    "detail": ("详情", "Detail"),
    "page_path": ("页面", "Page"),
    "hash_prev": ("前一条哈希", "Previous hash"),
    "hash": ("哈希", "Hash"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "x_page": ("页面", "Page"),
    "x_contents": ("内容", "Contents"),
    "x_period": ("期间", "Period"),
    "x_drill": ("下钻条件", "Drill-down"),
    "x_pii": ("个人信息", "Personal data"),
    "x_masked": ("已脱敏", "masked"),
    "x_revealed": ("未脱敏（合规查阅，已记入审计日志）", "not masked (compliance review, recorded in the audit log)"),
    "x_as_of": ("数据截至", "Data as of"),
    "x_exported": ("导出时间", "Exported at"),
    "x_by": ("导出人", "Exported by"),
    "x_limit": ("行数上限", "Row limit"),
    # daily page
    "k_vs_wd": ("今日对比上月同星期 {day}", "today vs the same weekday last month, {day}"),
    "k_on_day": ("{day} 回收", "Collected on {day}"),
    "k_ptp_due_on": ("{day} 到期承诺", "PTPs due on {day}"),
    "ahead": ("进度领先", "Ahead of pace"),
    "behind": ("进度落后", "Behind pace"),
    "no_target": ("无目标", "No target"),
    "pace_help": ("竖线：深色为按工作日进度截至所选期末应回收的金额，红色为月度目标。",
                  "Ticks: dark, what the working-day calendar expects by the period's end; red, the month's "
                  "target."),
    "sort_by": ("排序", "Sort by"),
    "team_chart_max": ("按{order}显示前 {n} 个团队（共 {total} 个）；导出包含全部团队。",
                       "The first {n} of {total} teams by {order}; the export holds every team."),
    "sort_pace": ("按进度", "Pace"),
    "sort_collected": ("按回收金额", "Collected"),
    "sort_team": ("按团队", "Team"),
    # agents page
    "agent_cases": ("查看 {agent} 的在催案件", "Open {agent}'s cases"),
    "below_median_note": ("浅橙色单元格：低于该坐席所在团队的中位数（同一期间与筛选条件）。",
                          "Light orange cells: below the median of the agent's own team (same period and filters)."),
    "thin_note": ("灰色格：该时段外呼少于 {n} 次，接通率不可靠，格内数字为外呼次数。",
                  "Grey cells: fewer than {n} attempts in that hour, too few for a reliable rate; the number is the "
                  "attempts."),
    "thin_hover": ("外呼 %{customdata} 次，样本不足", "%{customdata} attempts: too few for a rate"),
    # complaints page
    "no_complaints": ("本期没有投诉。", "No complaints in this period."),
    # aging page
    "click_cell": ("点击矩阵单元格查看对应案件", "Click a cell to see the cases behind it"),
    # trends page
    "months_after": ("委案后 {n} 个月内", "within {n} months of placement"),
    # cases page
    "tot_payments": ("还款 {n} 笔，合计 {amount}", "{n} payments, {amount} in all"),
    "tot_contacts": ("外呼/外访 {n} 次", "{n} attempts"),
    "tot_promises": ("承诺 {n} 笔，合计 {amount}", "{n} promises, {amount} in all"),
    "tot_complaints": ("投诉 {n} 件", "{n} complaints"),
    "tot_balance": ("余额合计 {amount}", "balance {amount} in all"),
    "tot_placements": ("委案后还款合计 {amount}", "{amount} paid since placement"),
    "tot_placements_held": ("委案后持有期间还款合计 {amount}", "{amount} paid while held since placement"),
    "agency_drill_hint": ("点击评分表中的一行，查看所选期间委给该机构的案件；点击曲线上的一点，查看该批次的委案案件。",
                          "Click a scorecard row for the cases placed with that agency in the period, or a point of "
                          "a curve for that month's placements."),
    "export_limit": ("导出最多包含 {n} 行（共 {total} 件，按金额从大到小）。", "Exports hold at most {n} rows "
                     "(of {total}, largest amount first)."),
    "tl_duration": ("通话 {} 秒", "{} s call"),
    "tl_due": ("到期 {}", "due {}"),
    "tl_dpd": ("逾期 {} 天", "{} days past due"),
    # compliance page
    "pg_compliance": ("合规监控", "Compliance"),
    "chk_quiet_hours": ("非时段催收", "Quiet hours"),
    "chk_unanswered_cap": ("未接通超频", "Unanswered-call cap"),
    "chk_connected_cap": ("接通超频", "Connected-call cap"),
    "chk_third_party": ("违规联系第三方", "Third party while reachable"),
    "chk_during_plan": ("协商还款期内催收", "During a repayment plan"),
    "chk_unrecorded": ("接通未录音", "Unrecorded call"),
    "chk_agency_not_allowed": ("未入白名单的委外", "Agency not whitelisted"),
    "chk_agency_evaluation": ("委外年度评估", "Agency yearly evaluation"),
    "chk_complaint_deadline": ("投诉处理时限", "Complaint deadline"),
    "chk_scorecard": ("合规加权评分", "Compliance-weighted scorecard"),
    "breach_n": ("违规次数", "Breaching contacts"),
    "prev_period": ("上一期间", "Previous period"),
    "prev_rate": ("上一期间每千次", "Previous period per 1,000"),
    "change": ("变化", "Change"),
    "per_1k": ("每千次", "per 1,000"),
    "k_breach_help": ("{rate} 次/每千次{base}；上一期间（{start} → {end}）{prev} 次。判定依据：{rules}",
                      "{rate} per 1,000 {base}; previous period ({start} → {end}): {prev}. Judged by: {rules}"),
    "base_attempts": ("外呼/外访", "attempts"),
    "base_connected": ("接通外呼", "connected calls"),
    "no_rule": ("本期间无生效规则", "no rule in force in this period"),
    "pack_problem": ("规则文件有误，仍沿用上一版有效规则包：{msg}",
                     "A rule file is invalid, so the previous valid rule pack stays in force: {msg}"),
    "pack_stale": ("图中数字按规则包 {store} 判定，当前规则包为 {now}：下次同步后按当前规则重新判定。",
                   "The figures were judged with rule pack {store}; the pack in force now is {now}: the next sync "
                   "judges them again."),
    "pack_line": ("规则包 {version}", "Rule pack {version}"),
    "pack_where": ("每张卡片的判定规则与版本见其说明；全部规则见“指标口径”。",
                   "Each card's help names the rules and versions that judged it; every rule is in the Glossary."),
    "no_product_region": ("合规数字按日期、团队、坐席、渠道与账龄统计：本页未按产品、地区筛选。",
                          "Compliance figures are by day, team, agent, channel and bucket: this page does not "
                          "filter by product or region."),
    "missing_part": ("案件库没有 {parts}（可选数据，见数据约定），因此无法检查“{check}”。",
                     "The case database has no {parts} (optional; see the data contract), so “{check}” cannot be "
                     "checked."),
    "skipped_rows": ("有 {n} 行可选合规字段取值异常，检查时已跳过（{cols}）；运行 `collections-dashboard doctor` 查看。",
                     "{n} rows held unexpected values in optional compliance columns and were skipped ({cols}); run "
                     "`collections-dashboard doctor` for details."),
    "c_breach_day": ("每日违规（按规则）", "Breaches by day and rule"),
    "c_breach_rank": ("违规率排名（每千次外呼/外访）", "Breach rate ranking (per 1,000 attempts)"),
    "rank_by": ("排名对象", "Rank"),
    "rank_team": ("团队", "Teams"),
    "rank_agency": ("委外机构", "Agencies"),
    "rank_agent": ("坐席", "Agents"),
    "g_rulepack": ("合规规则", "Collection rules"),
    "g_rules_intro": ("每次催收行动按其当日有效的规则判定；同一检查有多条规则同时有效时取最严格的数值。",
                      "Each contact is judged by the rules in force on its own day; where several rules of one check "
                      "are in force, the strictest figure wins."),
    "rule": ("规则", "Rule"),
    "rule_id": ("规则编号", "Rule id"),
    "effective_from": ("生效日期", "In force from"),
    "effective_to": ("失效日期", "In force until"),
    "figures": ("参数", "Figures"),
    "rule_file": ("规则文件", "Rule file"),
    "house": ("本机构规则", "House rule"),
    "bar_pick": ("点击柱形查看其违规记录", "Click a bar to list its breaching contacts"),
    "rank_pick": ("选择一行，查看其违规记录", "Select a row to list its breaching contacts"),
    "no_breaches": ("本期没有违规。", "No breaches in this period."),
    "c_breach_list": ("违规催收记录", "Breaching contacts"),
    "breach_pick": ("点击上方柱形或排名中的一行，即可在此查看对应的违规催收记录。",
                    "Click a bar or a ranking row above to list the breaching contacts behind it here."),
    "breach_behind": ("下列违规记录对应：{what}", "Breaching contacts behind: {what}"),
    "breach_total": ("共 {n} 条违规记录", "{n} breaching contacts"),
    "breach_clear": ("清除选择", "Clear the selection"),
    "any_check": ("全部规则", "every rule"),
    "checks": ("违反的规则", "Rules broken"),
    "rules": ("判定依据", "Judged by"),
    "contact_id": ("记录编号", "Contact id"),
    "contacted_at": ("催收时间", "Contacted at"),
    "duration_s": ("通话秒数", "Call seconds"),
    "phone_no": ("拨打号码", "Number dialled"),
    "party": ("联系对象", "Party"),
    "outcome": ("结果", "Outcome"),
    "contact_channel": ("方式", "Channel"),
    "c_after_breach": ("投诉前 30 天内有违规的投诉", "Complaints preceded by a breach within 30 days"),
    "no_after_breach": ("本期没有发生在违规之后的投诉。", "No complaint in this period followed a breach."),
    "c_ordinal": ("按拨打次序的本人接通率与频次上限", "RPC yield by attempt ordinal, against the caps"),
    "ordinal": ("案件当日第几次拨打", "Attempt of the case-day"),
    "cap_unanswered_cap": ("未接通上限 {n}", "unanswered cap {n}"),
    "cap_connected_cap": ("接通上限 {n}", "connected cap {n}"),
    "ordinal_note": ("虚线右侧的拨打超出频次上限：增加违规风险，却几乎不再带来本人接通。",
                     "Dials right of a dashed line are past a cap: they add risk and almost no contact."),
    "c_agencies": ("委外机构：白名单与年度评估", "Agencies: whitelisting and yearly evaluation"),
    "agency_name": ("委外机构", "Agency"),
    "whitelisted_on": ("入白名单日期", "Whitelisted on"),
    "evaluated_on": ("最近评估日期", "Last evaluated"),
    "days_since_evaluation": ("距上次评估天数", "Days since evaluation"),
    "not_whitelisted": ("未入白名单", "Not whitelisted"),
    "evaluation_overdue": ("评估逾期", "Evaluation overdue"),
    "agencies_ok": ("所有委外机构均已入白名单，且评估在期限内。", "Every agency is whitelisted and evaluated in time."),
    "no_agencies": ("筛选范围内没有委外团队。", "No agency teams within the selection."),
    "k_agencies_bad": ("白名单或评估有问题的机构", "Agencies with a whitelist or evaluation gap"),
    "c_deadline": ("投诉处理时限", "Complaints against their legal deadline"),
    "decided_days": ("处理天数（未结：已过天数）", "Days to decision (open: days so far)"),
    "deadline_days": ("法定时限（天）", "Deadline (days)"),
    "late": ("超期", "Late"),
    "after_breach": ("此前有违规", "Breach before"),
    "k_late": ("超期投诉", "Complaints past the deadline"),
    "k_after_breach": ("违规后发生的投诉", "Complaints after a breach"),
    "no_complaints_period": ("本期没有收到投诉。", "No complaints received in this period."),
    "complaint_case": ("选择一行查看该案件的时间线", "Select a row to open the case timeline"),
    "c_scorecard_w": ("合规加权评分（信用卡办法第六十六条）", "Compliance-weighted scorecard (credit-card measures Art. 66)"),
    "c_scorecard_agency": ("委外机构合规加权评分", "Agencies: compliance-weighted scorecard"),
    "score": ("综合评分", "Score"),
    "w_rank": ("加权排名", "Weighted rank"),
    "recovery_rank": ("仅按回收排名", "Recovery-only rank"),
    "rank_change": ("名次变化", "Change"),
    "p_recovery": ("回收率分位", "Recovery percentile"),
    "p_breaches": ("违规率分位（越低越好）", "Breach percentile (lower rate is better)"),
    "p_complaints": ("投诉率分位（越低越好）", "Complaint percentile (lower rate is better)"),
    "scorecard_formula": ("评分 = ({wr}×回收率分位 + {wb}×违规率分位 + {wc}×投诉率分位) ÷ 权重和；分位在同期有外呼/外访的"
                          "对象中计算，1 为最好（违规率、投诉率越低越好）。权重来自 {rule}。",
                          "Score = ({wr} × recovery percentile + {wb} × breach percentile + {wc} × complaint "
                          "percentile) ÷ the weights' sum; percentiles among those with attempts in the period, 1 "
                          "best (lower breach and complaint rates are better). Weights from {rule}."),
    "scorecard_me": ("合规加权排名 {rank} / {n}（仅按回收 {rrank}，{change}）",
                     "Compliance-weighted rank {rank} of {n} (recovery only {rrank}, {change})"),
    "rank_up": ("上升 {n} 名", "up {n}"),
    "rank_down": ("下降 {n} 名", "down {n}"),
    "rank_same": ("名次不变", "unchanged"),
    # timeline event kinds
    "tl_contact": ("催收记录", "Contact"),
    "tl_promise": ("还款承诺", "Promise"),
    "tl_payment": ("还款", "Payment"),
    "tl_complaint": ("投诉", "Complaint"),
    "tl_snapshot": ("月末快照", "Month-end snapshot"),
}

# Values of data columns shown to users.
_VALUES: dict[str, tuple[str, str]] = {
    "harassment": ("骚扰", "Harassment"),
    "third_party_disclosure": ("向第三方透露", "Third-party disclosure"),
    "abusive_language": ("辱骂", "Abusive language"),
    "excessive_contact": ("频繁催收", "Excessive contact"),
    "after_hours_contact": ("非时段催收", "After-hours contact"),
    "misinformation": ("虚假信息", "Misinformation"),
    "privacy": ("隐私", "Privacy"),
    "fee_dispute": ("费用争议", "Fee dispute"),
    "other": ("其他", "Other"),
    "hotline": ("客服热线", "Hotline"),
    "regulator_12378": ("12378 监管热线", "Regulator 12378"),
    "branch": ("网点", "Branch"),
    "online": ("线上", "Online"),
    "social_media": ("社交媒体", "Social media"),
    "letter": ("信函", "Letter"),
    "low": ("低", "Low"), "medium": ("中", "Medium"), "high": ("高", "High"),
    "open": ("未结", "Open"), "resolved": ("已结", "Resolved"),
    "in_house": ("自营", "In-house"), "agency": ("委外", "Agency"),
    "closed": ("结清", "Closed"),
    # case statuses
    "active": ("在催", "Active"), "paid_off": ("已结清", "Paid off"), "settled": ("和解结清", "Settled"),
    "legal": ("诉讼", "Legal"), "written_off": ("已核销", "Written off"), "recalled": ("已收回", "Recalled"),
    # contact channels, parties and outcomes
    "call": ("电话", "Call"), "sms": ("短信", "SMS"), "email": ("邮件", "E-mail"), "visit": ("外访", "Visit"),
    "debtor": ("债务人本人", "Debtor"), "third_party": ("第三方", "Third party"), "none": ("无人", "No one"),
    "no_answer": ("无人接听", "No answer"), "busy": ("忙线", "Busy"), "wrong_number": ("号码错误", "Wrong number"),
    "rpc": ("本人接通", "Right-party contact"), "ptp": ("承诺还款", "Promise to pay"), "refused": ("拒绝还款", "Refused"),
    "dispute": ("争议", "Dispute"), "hardship": ("困难", "Hardship"), "callback": ("约回电", "Callback"),
    # promise statuses
    "pending": ("待到期", "Pending"), "kept": ("已兑现", "Kept"), "partial": ("部分兑现", "Partial"),
    "broken": ("违约", "Broken"),
    # payment methods
    "bank_transfer": ("银行转账", "Bank transfer"), "app": ("手机银行", "Mobile app"), "wechat_pay": ("微信支付", "WeChat Pay"),
    "alipay": ("支付宝", "Alipay"), "counter": ("柜面", "Counter"), "auto_debit": ("自动扣款", "Auto debit"),
    "白金卡": ("白金卡", "Platinum card"), "金卡": ("金卡", "Gold card"), "普卡": ("普卡", "Classic card"),
    "联名卡": ("联名卡", "Co-brand card"), "现金分期": ("现金分期", "Cash instalment"),
}


def t(key: str, lang: str, **fmt: object) -> str:
    """The label of `key` in `lang` (a metric key gives the metric's declared name), formatted with `fmt`."""
    if key in METRICS:
        return METRICS[key].name(lang)
    zh, en = _LABELS[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def has_label(key: str) -> bool:
    """True when `key` is an interface label or a metric key."""
    return key in _LABELS or key in METRICS


def labels_expr(col: str, lang: str, prefix: str = "") -> pl.Expr:
    """Column `col` whose values are label keys (after `prefix`), as their labels in `lang` (natively, no UDF)."""
    mapping = {k[len(prefix):]: (zh if lang == "zh" else en) for k, (zh, en) in _LABELS.items() if k.startswith(prefix)}
    mapping |= {k: m.name(lang) for k, m in METRICS.items() if not prefix}
    return pl.col(col).cast(pl.String).replace(mapping).fill_null("—").alias(col)


def bi(key: str) -> str:
    """Both languages, for messages shown before the language is known."""
    zh, en = _LABELS[key]
    return f"{zh} · {en}"


def value(v: object, lang: str) -> str:
    """A data value (category, source, product …) in `lang`; unknown values as they are."""
    pair = _VALUES.get(str(v))
    if pair is None:
        return "—" if v is None else str(v)
    return pair[0] if lang == "zh" else pair[1]


def value_mapping(lang: str) -> dict[str, str]:
    """Every data value with a label, as its label in `lang`."""
    return {k: (zh if lang == "zh" else en) for k, (zh, en) in _VALUES.items()}


def values_expr(col: str, lang: str) -> pl.Expr:
    """Column `col` with its data values in `lang`, as value() does, evaluated natively by Polars.

    Never a Python UDF (map_elements) in the dashboard: a UDF needs the GIL on Polars' worker threads, and a
    concurrent session holding the GIL while it waits for those workers deadlocks the whole server.
    """
    return pl.col(col).cast(pl.String).replace(value_mapping(lang)).fill_null("—").alias(col)


