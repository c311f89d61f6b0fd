"""Every text the action server says to a cardholder, in Chinese and English (issue 19).

One table for the layer: the forms' questions, buttons, hints and confirmations, the final
actions' results, the identity check, the goodbye reminders and the KB replies read their
wording here by key, in the conversation's language (`actions.language.language_of`; Chinese
is the default). The card rules' own sentences (eligibility, annual fee lines) are in
cards/texts.py. Fields are filled with str.format.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.language import language_of
from vocab.language import KB_WORDS, TextTable

TEXTS = TextTable("actions", {
    **KB_WORDS,  # btn_human, kb_related, kb_clarify, kb_none_of_these
    # --- flows: names ----------------------------------------------------------------------
    "flow_check_bill": ("账单查询", "bill lookup"),
    "flow_repayment": ("还款查询", "repayment lookup"),
    "flow_query_statement_date": ("账单日查询", "statement date lookup"),
    "flow_change_statement_date": ("账单日修改", "statement date change"),
    "flow_installment_bill": ("账单分期", "bill instalment"),
    "flow_installment_single": ("单笔分期", "purchase instalment"),
    "flow_check_points": ("积分查询", "points lookup"),
    "flow_redeem_points": ("积分兑换", "points redemption"),
    "flow_check_credit_limit": ("额度查询", "credit limit lookup"),
    "flow_apply_temp_limit": ("临时额度申请", "temporary limit application"),
    "flow_report_lost_card": ("挂失", "lost card report"),
    "flow_freeze_card": ("冻结卡片", "card freeze"),
    "flow_activate_card": ("开卡激活", "card activation"),
    "flow_annual_fee": ("年费查询", "annual fee lookup"),
    "flow_any": ("当前业务", "current request"),
    "flow_this": ("本次业务", "this request"),
    # --- buttons ----------------------------------------------------------------------------
    "btn_confirm": ("确认", "Confirm"),
    "btn_cancel": ("取消", "Cancel"),
    "btn_reissue_yes": ("需要补卡", "Yes, send a new card"),
    "btn_reissue_no": ("暂不补卡", "No new card for now"),
    "btn_periods": ("{n}期", "{n} months"),
    "btn_all_installment": ("全部分期（{top}元）", "All of it ({top} yuan)"),
    "btn_item": ("{name}（{points:,}积分）", "{name} ({points:,} points)"),
    # --- hints (an answer that cannot be used) ---------------------------------------------
    "hint_card_last4": ("请输入4位数字的卡号后四位，例如“1234”。",
                        "Please enter the last 4 digits of your card, e.g. \"1234\"."),
    "hint_id_last6": ("请输入身份证号码的最后6位（最后一位是X的请输入X）。",
                      "Please enter the last 6 characters of your ID number (X if the last "
                      "one is X)."),
    "hint_new_statement_day": ("请告诉我新的账单日，可选每月1日至28日，例如“15号”。",
                               "Please tell me the new statement date, any day from the 1st "
                               "to the 28th, e.g. \"15\"."),
    "hint_installment_amount_fen": ("请告诉我要分期的金额，例如“3000元”，或者说“全部”。",
                                    "Please tell me the amount to split, e.g. \"3000\"."),
    "hint_installment_txn_id": ("请点选要分期的那笔消费，或者告诉我它的金额。",
                                "Please pick the purchase to split, or tell me its amount."),
    "hint_installment_periods": ("请选择分期期数：3期、6期、12期或24期。",
                                 "Please choose 3, 6, 12 or 24 instalments."),
    "hint_points_item_code": ("请告诉我想兑换的礼品，例如“航空里程”或“话费”。",
                              "Please tell me the reward you want, e.g. air miles or a phone "
                              "top-up."),
    "hint_temp_limit_fen": ("请告诉我想申请的临时额度金额，例如“5000元”。",
                            "Please tell me the temporary limit you want, e.g. \"5000\"."),
    "hint_target_card_last4": ("请输入要办理的卡片的卡号后四位。",
                               "Please enter the last 4 digits of the card concerned."),
    "hint_reissue_card": ("需要补办新卡吗？请回复“需要”或“不需要”。",
                          "Would you like a replacement card? Please answer yes or no."),
    "hint_confirm": ("请回复“确认”继续办理，或回复“取消”放弃办理。",
                     "Please reply \"confirm\" to go ahead or \"cancel\" to stop."),
    "err_txn_not_eligible": ("这笔消费不符合单笔分期条件，请从列表中选择。",
                             "That purchase cannot be split into instalments. Please choose "
                             "one from the list."),
    # --- questions --------------------------------------------------------------------------
    "ask_new_day": ("您当前的账单日是每月{day}日。请问想改到每月几号？"
                    "可选1日至28日，修改后从下一个账单周期生效，6个月内只能修改1次。",
                    "Your statement date is the {day_en} of each month. Which day would you "
                    "like instead? Any day from the 1st to the 28th; the change applies from "
                    "the next cycle and can be made once every 6 months."),
    "quote_line": ("· {periods}期：每期手续费{fee}元（费率{rate}/期），每期本金约{principal}元，"
                   "总手续费{total}元",
                   "· {periods} months: fee {fee} yuan a month ({rate} a month), principal "
                   "about {principal} yuan a month, total fee {total} yuan"),
    "ask_amount": ("您{date}出账的账单还有{top}元未还，可分期金额为500元至{top}元。"
                   "请问要分期多少？也可以说“全部”。",
                   "Your statement of {date} has {top} yuan unpaid; you can split 500 to {top} "
                   "yuan. How much would you like to split?"),
    "ask_txn": ("以下消费可以办理单笔分期（单笔满600元、尚未出账），请选择要分期的那一笔：",
                "These purchases can be split into instalments (600 yuan or more, not yet on a "
                "statement). Please choose one:"),
    "ask_periods_head": ("分期金额{amount}元，手续费按期收取：",
                         "Instalment amount {amount} yuan; the fee is charged each month:"),
    "ask_periods_tail": ("请问分几期？", "How many months would you like?"),
    "ask_item": ("您当前可用积分{balance:,}分，可以兑换以下礼品，请问想兑换哪一个？",
                 "You have {balance:,} points and can redeem these rewards. Which one would you "
                 "like?"),
    "ask_temp": ("您当前信用额度为{limit}元，最高可申请临时额度{top}元，有效期30天，到期自动失效。"
                 "请问需要提升多少？（1,000元起，100元的整数倍）",
                 "Your credit limit is {limit} yuan and you can apply for up to {top} yuan of "
                 "temporary limit, valid for 30 days. How much would you like? (1,000 yuan or "
                 "more, in hundreds)"),
    "ask_card": ("请问要办理的是哪一张卡？请选择或输入卡号后四位：",
                 "Which card is it? Please choose one or enter its last 4 digits:"),
    "reissue_fee": ("补卡工本费{fee}元", "the replacement fee is {fee} yuan"),
    "reissue_free": ("白金卡补卡免工本费", "a Platinum card is replaced free of charge"),
    "ask_reissue": ("挂失后需要为您补办新卡吗？{fee}，新卡7–10个工作日寄达，卡号会变更。",
                    "Shall we send you a replacement card after the report? {fee}; it arrives "
                    "in 7-10 working days with a new card number."),
    # --- confirmations ----------------------------------------------------------------------
    "confirm_day": ("请确认：将账单日由每月{old}日改为每月{new}日。\n"
                    "· 本期账单仍于{closing}按原账单日出具，之后改为每月{new}日出账"
                    "（首个新账单日{first}），到期还款日为账单日后第25天；\n"
                    "· 修改当期可能出现一次较短或较长的账单周期，修改后6个月内不能再次修改。\n"
                    "确认修改吗？",
                    "Please confirm: change your statement date from the {old_en} to the "
                    "{new_en} of each month.\n"
                    "· This cycle's statement is still issued on {closing} on the old date, "
                    "then on the {new_en} each month (first new statement {first}); payment is "
                    "due 25 days after the statement date;\n"
                    "· the cycle of the change may be shorter or longer once, and the date "
                    "cannot be changed again for 6 months.\nShall I change it?"),
    "confirm_what_bill": ("{date}账单中的{amount}元", "{amount} yuan of your {date} statement"),
    "confirm_what_txn": ("消费“{label}”", "the purchase \"{label}\""),
    "confirm_installment": ("请确认：将{what}分{periods}期，每期手续费{fee}元（费率{rate}/期），"
                            "总手续费{total}元；首期应还{first}元（本金{first_principal}元"
                            "+手续费{fee}元），之后每期本金{principal}元。"
                            "提前还款时剩余本金一次性入账，剩余各期手续费一并收取。确认办理吗？",
                            "Please confirm: split {what} into {periods} monthly instalments, "
                            "fee {fee} yuan a month ({rate} a month), total fee {total} yuan; "
                            "the first instalment is {first} yuan ({first_principal} yuan "
                            "principal + {fee} yuan fee), then {principal} yuan principal a "
                            "month. Repaying early bills the rest of the principal and all "
                            "remaining fees at once. Shall I go ahead?"),
    "confirm_redeem": ("请确认：使用{points:,}积分兑换{item}，兑换后剩余积分{left:,}分"
                       "（优先扣减最早到期的积分），兑换后不可退回。确认兑换吗？",
                       "Please confirm: redeem {points:,} points for {item}, leaving {left:,} "
                       "points (the earliest-expiring points are used first). A redemption "
                       "cannot be undone. Shall I redeem it?"),
    "confirm_temp": ("请确认：申请临时额度{amount}元，有效期30天（至{end}），到期自动失效；"
                     "临时额度部分需在账单中全额还清，不能按最低还款额还款。"
                     "生效后可用额度约{available}元。确认申请吗？",
                     "Please confirm: a temporary limit of {amount} yuan for 30 days (until "
                     "{end}), ending automatically; the temporary part must be repaid in full, "
                     "not with the minimum payment. Your available credit will be about "
                     "{available} yuan. Shall I apply?"),
    "card_fallback_label": ("尾号{last4}的卡片", "card ending {last4}"),
    "lost_fee": ("工本费{fee}元", "fee {fee} yuan"),
    "lost_fee_free": ("白金卡免工本费", "free for a Platinum card"),
    "lost_reissue": ("同时补办新卡（{fee}，7–10个工作日寄达，新卡卡号会变更）",
                     "and send a replacement card ({fee}, arriving in 7-10 working days with a "
                     "new card number)"),
    "lost_no_reissue": ("暂不补办新卡", "without a replacement card for now"),
    "confirm_lost": ("请确认：挂失{label}，{reissue}。挂失立即生效，原卡将无法再使用；"
                     "挂失前48小时内的盗刷可申请失卡保障（需报警）。确认挂失吗？",
                     "Please confirm: report your {label} lost, {reissue}. The report takes "
                     "effect at once and the card can no longer be used; fraud in the 48 hours "
                     "before the report is covered by lost-card protection (a police report is "
                     "needed). Shall I report it lost?"),
    "confirm_freeze": ("请确认：冻结（临时锁卡）{label}。冻结后卡片暂时不能消费，"
                       "您可以随时在App“卡片管理”中自助解锁；冻结期间仍需按时还款。确认冻结吗？",
                       "Please confirm: freeze (temporarily lock) your {label}. It cannot be "
                       "used while frozen; you can unlock it any time in the app under Card "
                       "management, and payments stay due as usual. Shall I freeze it?"),
    "confirm_activate": ("请确认：激活{label}。激活后即可正常使用，首年免年费。确认激活吗？",
                         "Please confirm: activate your {label}. It can be used right after "
                         "activation; the first year has no annual fee. Shall I activate it?"),
    # --- identity -----------------------------------------------------------------------------
    "id_passed": ("身份核验通过。", "Identity verified."),
    "id_failed_final": ("身份信息核验未通过。", "The identity check failed."),
    "id_failed_retry": ("身份信息核验未通过，卡号后四位或身份证后六位不正确。请核对后重新输入，"
                        "您还有{left}次机会。",
                        "The identity check failed: the card's last 4 digits or the ID's last "
                        "6 characters are not right. Please check and enter them again; {left} "
                        "attempt(s) left."),
    "id_locked": ("身份核验已连续3次未通过，为保护您的账户安全，本次会话中暂停办理自助业务。"
                  "如需帮助，请转人工客服，或携带身份证件前往网点办理。",
                  "The identity check failed 3 times, so self-service is paused for this "
                  "conversation to protect your account. For help, talk to an agent or visit a "
                  "branch with your ID."),
    "no_profile": ("抱歉，没有查询到与您当前登录账号关联的信用卡。请在本行信用卡App或微信公众号"
                   "登录后再试，或转人工客服为您处理。",
                   "Sorry, no credit card is linked to the account you are signed in with. "
                   "Please sign in in our card app or WeChat account and try again, or talk to "
                   "an agent."),
    "login_hint": ("如需直接查询或办理您本人的卡片业务，请登录本行信用卡App，"
                   "或在微信公众号绑定信用卡后再问我。",
                   "To look up or change your own card here, sign in to our card app, or link "
                   "your card in our WeChat account, then ask me again."),
    "id_required": ("为保障账户安全，办理前需要先核验身份，请重新发起业务办理。",
                    "For your security the identity check is needed first. Please start the "
                    "request again."),
    # --- results --------------------------------------------------------------------------------
    "cancelled": ("好的，已取消{what}办理，没有做任何修改。还有什么可以帮您？",
                  "OK, the {what} is cancelled and nothing was changed. Anything else I can do "
                  "for you?"),
    "refused": ("抱歉，未能办理：{reason}", "Sorry, this could not be done: {reason}"),
    "bill_none": ("您目前还没有已出的账单。", "You have no statement yet."),
    "days_left": ("还有{n}天", "in {n} days"),
    "days_today": ("就是今天", "today"),
    "days_past": ("已过{n}天", "{n} days ago"),
    "bill_head": ("您{date}出账的账单：", "Your statement of {date}:"),
    "bill_total": ("· 本期应还：{amount}元", "· Statement balance: {amount} yuan"),
    "bill_installed": ("· 已办理账单分期：{amount}元", "· Put into instalments: {amount} yuan"),
    "bill_paid": ("· 已还：{amount}元", "· Paid: {amount} yuan"),
    "bill_remaining": ("· 剩余应还：{amount}元", "· Still to pay: {amount} yuan"),
    "bill_min": ("· 最低还款额：{amount}元", "· Minimum payment: {amount} yuan"),
    "bill_due": ("· 到期还款日：{date}（{when}）", "· Payment due: {date} ({when})"),
    "bill_settled": ("· 本期账单已还清，感谢您按时还款！",
                     "· This statement is paid in full, thank you!"),
    "bill_recent": ("最近交易：", "Recent transactions:"),
    "bill_txn": ("· {date} {merchant} {amount}元{unbilled}",
                 "· {date} {merchant} {amount} yuan{unbilled}"),
    "bill_unbilled": ("（未出账）", " (not yet billed)"),
    "repay_none": ("您当前没有待还的账单金额。", "You have nothing to repay right now."),
    "repay_head": ("您{date}账单还需还款{remaining}元，最低还款额{min}元，"
                   "请在{due}（到期还款日）前还款。"
                   "全额还款可享免息；只还最低还款额不算逾期，但需支付利息。",
                   "Your statement of {date} has {remaining} yuan to repay (minimum payment "
                   "{min} yuan) by {due}, the payment due date. Paying in full is interest-free; "
                   "paying only the minimum is not overdue but interest is charged."),
    "repay_ways": ("还款方式：\n"
                   "1. 本行信用卡App绑定本行或他行借记卡还款，免费、实时到账；\n"
                   "2. 开通自动还款（绑定本行借记卡，可选全额或最低还款），到期还款日当天扣款；\n"
                   "3. 本行网点柜台或ATM还款；\n"
                   "4. 云闪付、支付宝、微信等他行渠道还款，以对方规则为准，"
                   "建议提前1–2个工作日操作。",
                   "Ways to repay:\n"
                   "1. In our card app from a debit card of ours or another bank: free and "
                   "instant;\n"
                   "2. Automatic repayment from a debit card of ours (full or minimum), taken "
                   "on the due date;\n"
                   "3. At a branch counter or an ATM of ours;\n"
                   "4. Through UnionPay QuickPass, Alipay, WeChat and other channels under "
                   "their rules: allow 1-2 working days."),
    "stmt_changed": ("您的账单日已改为每月{day}号（从下一个账单周期起生效）："
                     "本期账单仍于{next}按原账单日出具，到期还款日{due}；"
                     "之后每月{day}号出账单，到期还款日为账单日后第25天。",
                     "Your statement date has been changed to the {day_en} of each month (from "
                     "the next cycle): this cycle's statement is still issued on {next} on the "
                     "old date, due {due}; after that it is issued on the {day_en}, and payment "
                     "is due 25 days after the statement date."),
    "stmt_day": ("您的账单日是每月{day}号，到期还款日为账单日后第25天。"
                 "下一个账单日是{next}，对应的到期还款日是{due}。",
                 "Your statement date is the {day_en} of each month and payment is due 25 days "
                 "later. The next statement date is {next}, with payment due on {due}."),
    "points_balance": ("您当前可用积分为{balance:,}分。", "You have {balance:,} points. "),
    "points_expiring": ("其中{points:,}分将于{date}到期，请尽快使用。",
                        "{points:,} of them expire on {date}, so use them soon. "),
    "points_next_lot": ("最近一批到期的积分：{points:,}分，{date}到期。",
                        "The next batch to expire: {points:,} points on {date}. "),
    "points_tail": ("积分有效期36个月，可以在App“积分商城”兑换，也可以直接对我说“用积分兑换话费”。",
                    "Points are valid for 36 months; redeem them in the app's points mall or "
                    "just tell me, e.g. \"redeem points for a phone top-up\"."),
    "limit_head": ("您的信用额度（固定额度）为{limit}元", "Your credit limit is {limit} yuan"),
    "limit_temp": ("，另有临时额度{temp}元，有效期至{end}",
                   ", plus a temporary limit of {temp} yuan until {end}"),
    "limit_tail": ("。当前可用额度{available}元，取现额度{cash}元（信用额度的50%）。"
                   "需要临时周转可以申请临时额度（有效期30天）；固定额度用卡满6个月后可在App"
                   "“额度管理”申请调整。",
                   ". Available now: {available} yuan; cash advance limit {cash} yuan (50% of "
                   "the credit limit). For a short-term need you can apply for a temporary "
                   "limit (30 days); the credit limit itself can be reviewed in the app under "
                   "Limit management after 6 months of card use."),
    "fee_rules": ("年费标准：普卡100元/年、金卡300元/年、白金卡3,600元/年，均首年免年费；"
                  "普卡年内刷卡满5次、金卡满10次免次年年费，白金卡可用20万积分抵扣。",
                  "Annual fees: Classic 100 yuan, Gold 300 yuan, Platinum 3,600 yuan a year, "
                  "the first year free; 5 purchases a year (Classic) or 10 (Gold) waive the "
                  "next year's fee, and a Platinum fee can be paid with 200,000 points."),
    "day_changed": ("账单日已改为每月{day}日，将从下一个账单周期（{month}月）起生效："
                    "{closing}的账单仍按原账单日出具，首个新账单日为{first}，到期还款日为账单日后第25天。",
                    "Done: your statement date is now the {day_en} of each month, from the next "
                    "cycle. The statement of {closing} is still issued on the old date; the "
                    "first new statement date is {first}, and payment is due 25 days after "
                    "it."),
    "bill_inst_rest": ("本期账单剩余应还{remaining}元，最低还款额{min}元，请在{due}前还款。",
                       "{remaining} yuan remains to pay on this statement (minimum payment "
                       "{min} yuan) by {due}."),
    "bill_inst_rest_none": ("本期账单已无剩余应还金额。",
                            "Nothing remains to pay on this statement."),
    "bill_inst_done": ("账单分期办理成功：{what}分{periods}期，每期手续费{fee}元，"
                       "首期应还{first}元，"
                       "将计入下期账单。{rest}",
                       "Done: {what} is split into {periods} monthly instalments, fee {fee} yuan "
                       "a month; the first instalment of {first} yuan is on your next "
                       "statement. {rest}"),
    "single_inst_done": ("单笔分期办理成功：{what}分{periods}期，每期手续费{fee}元，"
                         "首期应还{first}元（本金{principal}元+手续费），将计入本期账单。",
                         "Done: {what} is split into {periods} monthly instalments, fee {fee} "
                         "yuan a month; the first instalment of {first} yuan ({principal} yuan "
                         "principal + fee) is on this statement."),
    "inst_bill_what": ("{date}账单{amount}元", "{amount} yuan of the {date} statement"),
    "inst_txn_what": ("{date} {merchant} {amount}元", "{date} {merchant} {amount} yuan"),
    "redeem_done": ("兑换成功！已使用{points:,}积分兑换{item}，剩余积分{left:,}分。"
                    "权益将在3个工作日内发放，可在App“积分商城-我的订单”查看。",
                    "Done! {points:,} points redeemed for {item}; {left:,} points left. The "
                    "reward arrives within 3 working days; see it in the app under Points mall "
                    "> My orders."),
    "temp_done": ("临时额度已生效：提升{amount}元，有效期至{end}，当前可用额度{available}元。"
                  "临时额度部分请在账单中全额还清。",
                  "Done: your temporary limit of {amount} yuan is active until {end}; available "
                  "credit now {available} yuan. Please repay the temporary part in full."),
    "lost_done": ("已为您挂失{label}，原卡已立即失效，无法再使用。",
                  "Your {label} is reported lost and stopped at once; it can no longer be "
                  "used. "),
    "lost_new_fee": ("补卡工本费{fee}元将计入账单", "the {fee} yuan replacement fee goes on your "
                                                  "statement"),
    "lost_new_free": ("白金卡补卡免工本费", "a Platinum replacement is free of charge"),
    "lost_new_card": ("新卡（尾号{last4}）将在7–10个工作日内寄达，{fee}。"
                      "收到新卡后请先激活，并及时更新绑定的自动扣款和支付账户。",
                      "Your new card (ending {last4}) arrives in 7-10 working days; {fee}. "
                      "Activate it when it arrives and update your automatic payments and "
                      "payment apps. "),
    "lost_no_new_card": ("您暂未补办新卡，需要时可以随时对我说“补办信用卡”或联系人工客服。",
                         "No replacement card was ordered; ask me or an agent any time you "
                         "need one. "),
    "lost_tail": ("如发现盗刷，请立即报警并拨打客服热线400-123-4567。",
                  "If you see fraudulent charges, report them to the police and call the "
                  "hotline 400-123-4567 at once."),
    "freeze_done": ("已冻结{label}，冻结期间卡片不能消费。"
                    "需要时可随时在App“卡片管理”中自助解锁；冻结期间仍需按时还款。",
                    "Your {label} is frozen and cannot be used. Unlock it yourself any time in "
                    "the app under Card management; payments stay due as usual."),
    "activate_rule_swipes": ("年内刷卡满{n}次可免次年年费",
                             "{n} purchases in a year waive the next year's fee"),
    "activate_rule_points": ("年费可用20万积分抵扣", "the fee can be paid with 200,000 points"),
    "activate_done": ("{label}已激活，可以正常使用了！首年免年费，之后年费{fee}元/年，{rule}。",
                      "Your {label} is activated and ready to use! The first year is free, "
                      "then the annual fee is {fee} yuan a year; {rule}."),
    # --- goodbye and reminders ------------------------------------------------------------------
    "goodbye": ("感谢您的咨询，祝您生活愉快，再见！", "Thank you for contacting us. Goodbye!"),
    "in_days_0": ("今天", "today"),
    "in_days_1": ("明天", "tomorrow"),
    "in_days_n": ("{n}天后", "in {n} days"),
    "rem_payment_amount": ("，本期还需还款{amount}元", " with {amount} yuan still to pay"),
    "rem_payment": ("温馨提醒：您的账单将于{date}（{when}）到期{amount}，"
                    "记得按时还款，以免影响征信哦。",
                    "A reminder: your statement is due on {date} ({when}){amount}. Please pay "
                    "on time to protect your credit record."),
    "rem_points_some": ("有{points:,}积分", "{points:,} points"),
    "rem_points_any": ("有一部分积分", "some of your points"),
    "rem_points": ("温馨提醒：您{amount}将于{date}到期，"
                   "可以在App“积分商城”兑换，或直接对我说“积分兑换”。",
                   "A reminder: {amount} expire on {date}. Redeem them in the app's points "
                   "mall or just tell me \"redeem points\"."),
    "rem_temp": ("温馨提醒：您的临时额度{amount}将于{date}到期失效，"
                 "临时额度部分需在账单中全额还清，请提前安排资金。",
                 "A reminder: your temporary limit{amount} ends on {date}; the temporary part "
                 "must be repaid in full, so please plan ahead."),
    "rem_fee_swipes": ("本年度再刷卡{n}次即可免年费", "{n} more purchases this year waive it"),
    "rem_fee_points": ("可用{points:,}积分抵扣", "it can be paid with {points:,} points"),
    "rem_fee": ("温馨提醒：您{name}年费{fee}将于{date}收取，{how}。",
                "A reminder: the annual fee{fee} of your {name} is charged on {date}; {how}."),
    "rem_amount": ("{amount}元", " of {amount} yuan"),
    "rem_card": ("{card}{tier}", "{tier}{card}"),
    "rem_card_named": ("尾号{last4}的", " ending {last4}"),
    "rem_card_plain": ("的", ""),
    "rem_activate": ("温馨提醒：您{card}新{tier}还没有激活，"
                     "对我说“激活信用卡”即可办理，未激活的新卡不收年费。",
                     "A reminder: your new {tier}{card} is not activated yet. Just tell me "
                     "\"activate my card\"; no annual fee is charged before activation."),
    # --- knowledge base ---------------------------------------------------------------------
    "kb_also_asked": ("您还问到：", "You also asked:"),
    "kb_our_related": ("本行的相关问题：", " Related questions about our cards:"),
    # The KB words its other-bank note in Chinese (with the bank's Chinese name); English
    # conversations read these instead. {bank}: the name when written in Latin letters.
    "kb_other_product": ("抱歉，这是{bank}的产品，我只能解答本行信用卡的问题。",
                         "Sorry, that is a product of {bank}: I can only answer questions "
                         "about our own credit cards."),
    "kb_other_issuer": ("提示：您提到了{bank}，以下解答针对本行信用卡，{bank}的规定请以该行为准。",
                        "Note: you mentioned {bank}. The answer below is about our own credit "
                        "cards; that bank's own rules may differ."),
    "kb_another_bank": ("其他银行", "another bank"),
    "kb_fallback2": ("抱歉，我还是没能理解您的问题。要不要为您转接人工客服？",
                     "Sorry, I still don't understand your question. Shall I connect you to a "
                     "human agent?"),
    "kb_rephrase": ("我再换个说法", "Let me rephrase"),
    "kb_fallback1": ("抱歉，我没太明白您的意思，能换个说法再问一次吗？比如“怎么修改账单日”。",
                     "Sorry, I didn't quite get that. Could you ask in another way? For example "
                     "\"How do I change my statement date?\""),
    "kb_down": ("抱歉，知识库暂时无法访问，请稍后再试，或拨打信用卡客服热线 400-123-4567。",
                "Sorry, the knowledge base is not available right now. Please try again later "
                "or call the card hotline 400-123-4567 (24/7)."),
})


def text(lang: str | None, key: str, **fields: Any) -> str:
    """The text `key` in `lang` (`vocab.language.TextTable.text`; language first here, as the
    actions call it)."""
    return TEXTS.text(key, lang, **fields)


def say(tracker: Tracker, key: str, **fields: Any) -> str:
    """The text `key` in the tracker's conversation language."""
    return text(language_of(tracker), key, **fields)
