"""Audit actions as sentences a person reads (the staff dashboard, the audit pages).

Every action code the code records has a sentence here (tests/audit/test_sentences.py
finds the codes in the source and checks); an unknown code still reads as a sentence
(「記録された操作: …」) so a page never shows a bare code alone. Japanese first, English
through Django i18n.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as __

SENTENCES = {
    # staff
    "staff.signed_in": __("職員がログインしました"),
    "staff.signed_out": __("職員がログアウトしました"),
    "staff.sign_in_failed": __("職員のログインが失敗しました"),
    "staff.enrolled": __("職員のアカウントを登録しました"),
    "municipality.settings_changed": __("自治体の設定を変更しました"),
    # residents and identity
    "resident.signed_in": __("住民がマイナンバーカードでログインしました"),
    "resident.signed_out": __("住民がログアウトしました"),
    "residents.imported": __("住民記録を取り込みました"),
    "identity.identified": __("マイナンバーカードで本人を確認しました"),
    "identity.resident_linked": __("利用者を住民記録に紐付けました"),
    "identity.link_review_opened": __("住民記録との紐付けの確認を依頼しました"),
    "identity.link_review_resolved": __("住民記録との紐付けの確認を終えました"),
    "identity.card_released": __("マイナンバーカードの紐付けを解除しました"),
    "identity.card_mixture_refused": __("別の人のマイナンバーカードが混ざったため手続きを止めました"),
    # card ceremonies
    "ceremony.opened": __("マイナンバーカードの読み取りを始めました"),
    "ceremony.completed": __("マイナンバーカードの読み取りが完了しました"),
    "ceremony.failed": __("マイナンバーカードの読み取りが失敗しました"),
    "ceremony.card_paths_changed": __("カードの読み取り方法の設定を変更しました"),
    "natapp.configured": __("デジタル認証アプリとの連携を設定しました"),
    "natapp.key_rotated": __("デジタル認証アプリ連携用の鍵を更新しました"),
    "natapp.key_withdrawn": __("デジタル認証アプリ連携用の鍵を取り下げました"),
    # procedures
    "procedures.draft_saved": __("手続きの下書きを作成しました"),
    "procedures.draft_updated": __("手続きの下書きを保存しました"),
    "procedures.published": __("手続きの版を公開しました"),
    "procedures.retired": __("手続きの受付を終了しました"),
    "procedures.draft_discarded": __("手続きの下書きを削除しました"),
    # applications (one per status reached, and the others)
    "applications.submitted": __("住民が申請しました"),
    "applications.payment_required": __("申請が手数料の支払い待ちになりました"),
    "applications.received": __("申請を受け付けました"),
    "applications.returned": __("申請者に補正をお願いしました"),
    "applications.resubmitted": __("申請者が補正して再申請しました"),
    "applications.approved": __("申請を承認しました"),
    "applications.rejected": __("申請を却下しました"),
    "applications.completed": __("申請の処理を完了しました"),
    "applications.withdrawn": __("申請者が申請を取り下げました"),
    "applications.draft_deleted": __("申請の下書きを削除しました"),
    "applications.purged": __("保存期間を過ぎた申請を削除しました"),
    "applications.notice_read": __("住民がお知らせを読みました"),
    "applications.mynumber_revealed": __("職員が個人番号を表示しました"),
    "applications.attachment_clean": __("添付書類を無害化しました"),
    "applications.attachment_rejected": __("添付書類を無害化できませんでした"),
    # casework
    "casework.assigned": __("申請の担当者を変更しました"),
    "casework.commented": __("申請に内部メモを追加しました"),
    # receiving accounts (公金受取口座)
    "receiving_accounts.registered": __("住民が公金受取口座を電子署名して登録しました"),
    "receiving_accounts.changed": __("住民が公金受取口座を電子署名して変更しました"),
    "receiving_accounts.deleted": __("住民が公金受取口座の登録を削除しました"),
    "receiving_accounts.approved": __("職員が公金受取口座の名義を確認し、有効にしました"),
    "receiving_accounts.rejected": __("職員が公金受取口座の登録を認めませんでした"),
    "receiving_accounts.imported": __("国の登録情報から公金受取口座を取り込みました"),
    "receiving_accounts.extract_imported": __("公金受取口座の登録情報（国）の取込を終えました"),
    # payments
    "payments.created": __("手数料の支払いを作成しました"),
    "payments.pending": __("手数料の支払い手続きが始まりました"),
    "payments.succeeded": __("手数料が支払われました"),
    "payments.failed": __("手数料の支払いが失敗しました"),
    "payments.expired": __("手数料の支払いが期限切れになりました"),
    "payments.cancelled": __("手数料の支払いを取り消しました"),
    "payments.refunded": __("手数料を返金しました"),
    "payments.partially_refunded": __("手数料の一部を返金しました"),
    "payments.application_not_waiting": __("支払い待ちでない申請への支払いを記録しました"),
    "payments.refund_requested": __("手数料の返金を依頼しました"),
    "payments.refund_failed": __("手数料の返金が完了しませんでした（再試行できます）"),
    "payments.refund_refused": __("決済事業者が手数料の返金を断りました"),
    "payments.reconciled": __("収納消込を行いました"),
    "payments.reconciliation_changed": __("収納消込の差異の内容が変わりました"),
    "payments.reconciliation_failed": __("収納消込ができませんでした"),
    "payments.reconciliation_resolved": __("収納消込の差異を解決済みにしました"),
    # documents
    "documents.issued": __("文書を発行しました"),
    "documents.downloaded": __("発行文書をダウンロードしました"),
    "documents.profile_created": __("文書の様式を作成しました"),
    "documents.signing_key_installed": __("文書の署名鍵を設定しました"),
    # exports
    "exports.requested": __("基幹連携の出力を依頼しました"),
    "exports.started": __("基幹連携の出力を始めました"),
    "exports.finished": __("基幹連携の出力が完了しました"),
    "exports.failed": __("基幹連携の出力が失敗しました"),
    "exports.expired": __("基幹連携の出力ファイルが期限切れで削除されました"),
    "exports.downloaded": __("基幹連携の出力ファイルをダウンロードしました"),
    "exports.mynumber_downloaded": __("個人番号を含む出力ファイルをダウンロードしました"),
    # notices
    "notices.email_registered": __("住民がメールアドレスを登録しました"),
    "notices.email_verified": __("住民がメールアドレスを確認しました"),
    "notices.email_removed": __("住民がメールアドレスを削除しました"),
    "notices.email_invalid": __("届かないメールアドレスを停止しました"),
    "notices.email_unsubscribed": __("住民がメールの配信を停止しました"),
    "notices.push_subscribed": __("住民がプッシュ通知を登録しました"),
    "notices.push_removed": __("プッシュ通知の登録を削除しました"),
    "notices.preferences_changed": __("住民がお知らせの受け取り方を変更しました"),
    "notices.delivery_failed": __("お知らせを届けられませんでした"),
    "notices.quiet_hours_changed": __("プッシュ通知を控える時間帯を変更しました"),
    "certificates.issued": __("証明書をオンラインで交付しました"),
    "benefits.program_created": __("給付事業を作成しました"),
    "benefits.program_opened": __("給付の支給を始め、対象者に通知しました"),
    "benefits.declined": __("住民が給付金の受け取りを辞退しました"),
    "benefits.confirmation_received": __("給付金の確認書を受け付けました"),
    "benefits.run_built": __("給付金の振込データを作成しました"),
    "benefits.run_released": __("給付金の振込データを承認し、振込ファイルを作成しました"),
    "benefits.run_cancelled": __("給付金の振込データを取り消しました"),
    "benefits.run_downloaded": __("給付金の振込ファイルをダウンロードしました"),
    "benefits.results_imported": __("給付金の振込結果を取り込みました"),
    "counter.card_read": __("窓口でマイナンバーカードを読み取りました（照合番号Bまたは暗証番号）"),
    "counter.procedures_chosen": __("窓口で来庁者の手続きを選びました"),
    "counter.filed": __("窓口で記入した手続きを申請しました"),
    "counter.signed": __("窓口で住民がマイナンバーカードで申請に電子署名しました"),
    "counter.sign_refused": __("窓口で読み取ったカードの方ではない電子署名を受け付けませんでした"),
    "counter.visit_closed": __("窓口の受付を終了し、読み取った内容を消去しました"),
    "counter.visit_expired": __("期限切れの窓口の受付の、読み取った内容を消去しました"),
    "counter.pin_requested": __("窓口で住民の方の画面に暗証番号の入力をお願いしました"),
    "bookings.booked": __("住民が来庁予約をしました"),
    "bookings.changed": __("住民が来庁予約の日時を変更しました"),
    "bookings.cancelled": __("住民が来庁予約を取り消しました"),
    "moving.received": __("転出元の署名を確かめて転入予定を受け付けました"),
    "moving.prepared": __("受理した転出届から転出情報を作成しました"),
    "moving.signed": __("転出情報に署名し、送付のために保管しました"),
    "moving.delivered": __("署名した転出情報を転入先へ送付しました"),
    "moving.destination_set": __("転出の転入先の団体コードを入力しました"),
    "moving.exported": __("署名した転出情報を書き出しました"),
    "moving.confirmed": __("転入を確定し、住民記録を作成しました"),
    "moving.moved_out": __("転入先の確定を受けて転出を確定しました"),
    "moving.notice_signed": __("他の基盤の転出元へ送る転入通知に署名しました"),
    "moving.notice_exported": __("署名した転入通知を書き出しました"),
    "moving.follow_up_added": __("引越しのあとの手続きを一覧に追加しました"),
    "moving.follow_up_removed": __("引越しのあとの手続きを一覧から外しました"),
    "residents.moved_in": __("転入した人の住民記録を作成しました"),
    "residents.moved_out": __("転出した人の住民記録を転出にしました"),
    "bookings.counter_created": __("予約できる窓口を追加しました"),
    "bookings.holiday_added": __("来庁予約の休日を追加しました"),
    "citizencard.service_enabled": __("市民カードのサービスを使えるようにしました"),
    "citizencard.service_disabled": __("市民カードのサービスの提供をやめました"),
    "citizencard.terminal_registered": __("市民カードの端末を登録しました"),
    "citizencard.terminal_revoked": __("市民カードの端末を停止しました"),
    "citizencard.ticket_type_created": __("チケットの種類を追加しました"),
    "citizencard.ticket_bound": __("チケットをカードに結び付けました"),
    "citizencard.ticket_rebound": __("チケットを更新後のカードに付け替えました"),
    "citizencard.ticket_cancelled": __("チケットを取り消しました"),
    "citizencard.admission_conflict": __("同じチケットで別の入場口から重複して入場が記録されました"),
    "citizencard.admission_cancelled_ticket": __("取消済みのチケットで、取消を同期する前の入場口から入場が記録されました"),
    "citizencard.seal_card_chosen": __("マイナンバーカードを印鑑登録証として使う設定をしました"),
    "citizencard.seal_card_revoked": __("マイナンバーカードを印鑑登録証として使う設定を取り消しました"),
    "citizencard.seal_card_checked": __("印鑑登録証としてマイナンバーカードを確認しました"),
    "attendance.event_created": __("出欠を記録する催しを追加しました"),
    "attendance.terminal_assigned": __("出欠を記録する端末を催しに割り当てました"),
    "attendance.member_registered": __("住民が催しに参加登録しました"),
    "attendance.member_card_updated": __("催しの参加登録を更新後のカードに移しました"),
    "attendance.exported": __("催しの出欠を書き出しました"),
    "library.library_created": __("図書館カードの図書館を追加しました"),
    "library.credential_rotated": __("図書館システムの認証情報を作り直しました"),
    "library.patron_linked": __("図書館の利用者番号をカードに登録しました"),
    "library.patron_unlinked": __("図書館の利用者番号の登録を解除しました"),
    "bookings.marked": __("来庁予約に来庁の記録をしました"),
    "residents.seal_registered": __("印鑑登録を記録しました"),
    "certificates.revoked": __("交付した証明書を取り消しました"),
    "notices.vapid_retired": __("古いプッシュ通知の鍵を廃止しました"),
    "notices.broadcast_created": __("お知らせの配信を作成しました"),
    "notices.broadcast_approved": __("お知らせの配信を承認しました"),
    "notices.broadcast_sent": __("お知らせを配信しました"),
    "notices.broadcast_test_sent": __("お知らせの配信を自分にテスト送信しました"),
    "notices.broadcast_scheduled": __("お知らせの配信を予約しました"),
    "notices.broadcast_schedule_cancelled": __("お知らせの配信の予約を取り消しました"),
    "notices.broadcast_schedule_failed": __("予約したお知らせを配信できませんでした（配信先に住民がいません）"),
    "notices.inbox_read": __("市からのお知らせを既読にしました"),
    # OpenID Connect
    "oidc.authorized": __("連携サービスへのログインを許可しました"),
    "oidc.consent_granted": __("住民が連携サービスへの情報提供に同意しました"),
    "oidc.consent_denied": __("住民が連携サービスへの情報提供を断りました"),
    "oidc.consent_revoked": __("住民が連携サービスへの同意を取り消しました"),
    "oidc.token_issued": __("連携サービスにトークンを発行しました"),
    "oidc.code_replayed": __("使用済みの認可コードが再び使われたため拒否しました"),
    "oidc.refresh_replayed": __("使用済みのリフレッシュトークンが再び使われたため拒否しました"),
    "oidc.logout": __("連携サービスからログアウトしました"),
    "oidc.sign_transaction_registered": __("連携サービスが電子署名を依頼しました"),
    "oidc.sign_started": __("連携サービスの電子署名を始めました"),
    "oidc.signed": __("連携サービスのために電子署名しました"),
    "oidc.sign_refused": __("連携サービスの電子署名を拒否しました"),
    "oidc.signature_fetched": __("連携サービスが電子署名を受け取りました"),
    "oidc.client_registered": __("連携サービスを登録しました"),
    "oidc.client_deactivated": __("連携サービスを停止しました"),
    "oidc.client_secret_rotated": __("連携サービスの秘密鍵を更新しました"),
    "oidc.client_keys_replaced": __("連携サービスの公開鍵を更新しました"),
    "oidc.key_created": __("署名鍵を作成しました"),
    "oidc.key_retired": __("署名鍵の使用を終えました"),
    "oidc.key_withdrawn": __("署名鍵を取り下げました"),
    # the audit trail itself, the demo
    "audit.chains_verified": __("操作記録の改ざん検査を行いました"),
    "audit.verified_from_back_office": __("職員画面から操作記録の改ざん検査を行いました"),
    "demo.loaded": __("デモデータを読み込みました"),
}

# Codes made from a pattern: admin.<model>.<added|changed|deleted>
ADMIN_VERBS = {"added": __("設定管理画面で%(model)sを追加しました"),
               "changed": __("設定管理画面で%(model)sを変更しました"),
               "deleted": __("設定管理画面で%(model)sを削除しました")}


def sentence(action: str) -> str:
    """The sentence for an audit action code; a readable fallback for an unknown one."""
    known = SENTENCES.get(action)
    if known is not None:
        return str(known)
    parts = action.split(".")
    if len(parts) == 3 and parts[0] == "admin" and parts[2] in ADMIN_VERBS:
        return str(ADMIN_VERBS[parts[2]]) % {"model": parts[1]}
    return _("記録された操作（%(code)s）") % {"code": action}


def is_known(action: str) -> bool:
    parts = action.split(".")
    return action in SENTENCES or (len(parts) == 3 and parts[0] == "admin" and parts[2] in ADMIN_VERBS)
