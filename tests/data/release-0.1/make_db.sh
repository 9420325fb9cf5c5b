#!/usr/bin/env bash
# Make sopengine.db with the sopengine command of release 0.1.0, for
# tests/test_previous_release.py: runs of the three shipped SOPs, some completed, some
# in flight, one cancelled, with a correction loop, a reopen, assignments and documents.
#
# Usage: make_db.sh SOPENGINE OUTDIR [DEFINITIONS]
#
#   SOPENGINE    the sopengine executable of the release (installed from commit c6522a8)
#   OUTDIR       a new or empty folder; sopengine.db, docs/, runs.json and verify.json are
#                written there
#   DEFINITIONS  the release's definitions folder (default /tmp/release-0.1/definitions)
#
# Every act has a fixed --now and --by, so the content is the same on every run of this
# script; only the run ids (random) and the recorded_at times (the real clock) differ.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 SOPENGINE OUTDIR [DEFINITIONS]" >&2
    exit 2
fi
SOP=$(realpath "$1")
OUT=$2
DEFS=$(realpath "${3:-/tmp/release-0.1/definitions}")

mkdir -p "$OUT"
OUT=$(realpath "$OUT")
if [[ -e "$OUT/sopengine.db" ]]; then
    echo "$OUT/sopengine.db exists already; give a new folder" >&2
    exit 2
fi
cd "$OUT"

# Nothing from the caller's environment may change what is recorded.
for name in $(compgen -e | grep '^SOPENGINE_' || true); do
    unset "$name"
done

sop() { "$SOP" --db "$OUT/sopengine.db" --definitions "$DEFS" "$@"; }
# start LABEL ARGS...: start a run, remember its id under LABEL.
declare -A RUN
start() {
    local label=$1
    shift
    RUN[$label]=$(sop run "$@" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
    echo "started $label: ${RUN[$label]}"
}

"$SOP" --version

# -- the documents recorded as outputs ---------------------------------------------------
mkdir -p docs
doc() { printf '%s\n' "$2" > "docs/$1"; }
doc disposisi-2026-06.txt "Disposisi Sekretaris Dinas: kumpulkan laporan kinerja Juni 2026."
doc lembar-disposisi-2026-06.txt "Lembar disposisi, rekap laporan kinerja Juni 2026 dan triwulan II."
doc draft-laporan-2026-06.txt "Draft laporan kinerja Juni 2026 (triwulan II)."
doc laporan-semester-2026-1.txt "Laporan semester I tahun 2026."
doc disposisi-2026-10.txt "Disposisi Sekretaris Dinas: kumpulkan laporan kinerja Oktober 2026."
doc lembar-disposisi-2026-10.txt "Lembar disposisi, rekap laporan kinerja Oktober 2026."
doc lembar-disposisi-2026-10-revisi.txt "Lembar disposisi, rekap laporan kinerja Oktober 2026 (diperbaiki)."
doc disposisi-2025-12.txt "Disposisi Sekretaris Dinas: kumpulkan laporan kinerja Desember 2025."
doc konsep-surat-undangan.txt "Konsep surat undangan rapat koordinasi."
doc konsep-surat-undangan-diketik.txt "Surat undangan rapat koordinasi, diketik."
doc konsep-surat-undangan-diketik-2.txt "Surat undangan rapat koordinasi, diketik ulang dengan nomor yang benar."
doc konsep-surat-edaran.txt "Konsep surat edaran jam kerja."
doc surat-edaran-ditandatangani.txt "Surat edaran jam kerja, ditandatangani Kasat."
doc surat-edaran-terkirim.txt "Surat edaran jam kerja, bernomor, diarsipkan dan dikirim."
doc formulir-permohonan.txt "Formulir permohonan informasi: anggaran kegiatan 2026."

# -- pengumpulan-data, period 2026-06: ends a semester, completed --------------------------
# The automatic gate akhir-semester takes Ya, akhir-tahun Tidak.
start data-2026-06 pengumpulan-data --period 2026-06 --now 2026-07-01T08:30 --by Ani
R=${RUN[data-2026-06]}
sop assign "$R" kepala-bidang "Siti Rahma" --now 2026-07-01T08:35 --by Ani
sop complete "$R" --now 2026-07-01T09:00 --by "Agus Supriyadi" --output Disposisi=docs/disposisi-2026-06.txt
sop complete "$R" --now 2026-07-01T10:00 --by Budi --output "Lembar Disposisi=docs/lembar-disposisi-2026-06.txt"
sop complete "$R" --now 2026-07-02T09:00 --by Rudi
sop complete "$R" --now 2026-07-02T11:00 --by Rudi --output "Draft Laporan Kinerja=docs/draft-laporan-2026-06.txt"
sop complete "$R" --now 2026-07-03T09:00 --by Budi --note "Disampaikan dalam rapat staf"
sop complete "$R" --now 2026-07-06T09:00 --by Hendra
sop complete "$R" --now 2026-07-08T10:00 --by "Siti Rahma" --output "Lembar Disposisi=docs/laporan-semester-2026-1.txt"
sop complete "$R" --now 2026-07-09T10:00 --by "Siti Rahma"

# -- pengumpulan-data, period 2026-10: a reopen, in flight at olah-data (second visit) ---
start data-2026-10 pengumpulan-data --period 2026-10 --now 2026-11-02T08:30 --by Ani
R=${RUN[data-2026-10]}
sop assign "$R" staf-evaluasi "Rudi Hartono" --now 2026-11-02T08:40 --by Ani
sop complete "$R" --now 2026-11-02T09:00 --by "Agus Supriyadi" --output Disposisi=docs/disposisi-2026-10.txt
sop complete "$R" --now 2026-11-02T10:00 --by Budi --output "Lembar Disposisi=docs/lembar-disposisi-2026-10.txt"
sop complete "$R" --now 2026-11-03T09:00 --by "Rudi Hartono"
sop reopen "$R" rekap-laporan --reason "Rekap bulan Oktober salah" --now 2026-11-03T14:00 --by Budi
sop complete "$R" --now 2026-11-04T09:00 --by Budi --output "Lembar Disposisi=docs/lembar-disposisi-2026-10-revisi.txt"

# -- pengumpulan-data, period 2025-12: ends the year, in flight at row 7 -------------------
# Assigned when started; both automatic gates will take Ya.
start data-2025-12 pengumpulan-data --period 2025-12 --assign "kepala-bidang=Siti Rahma" --now 2026-01-05T08:30 --by Ani
R=${RUN[data-2025-12]}
sop complete "$R" --now 2026-01-05T09:00 --by "Agus Supriyadi" --output Disposisi=docs/disposisi-2025-12.txt
sop complete "$R" --now 2026-01-05T11:00 --by Budi
sop complete "$R" --now 2026-01-06T09:00 --by Rudi
sop complete "$R" --now 2026-01-06T13:00 --by Rudi
sop complete "$R" --now 2026-01-07T09:00 --by Budi
sop complete "$R" --now 2026-01-09T09:00 --by Hendra

# -- surat-keluar: both loops taken, completed ----------------------------------------------
start surat-edaran surat-keluar --now 2026-08-03T08:00 --by Yuliana
R=${RUN[surat-edaran]}
sop complete "$R" --now 2026-08-03T08:30 --by Yuliana --output "Konsep surat=docs/konsep-surat-edaran.txt"
sop complete "$R" --now 2026-08-03T09:00 --by Maya
sop decide "$R" Ya --now 2026-08-03T09:30 --by Yuliana
sop decide "$R" Tidak --now 2026-08-03T11:00 --by "Hasan Basri" --note "Dasar hukum belum dicantumkan"
sop decide "$R" Ya --now 2026-08-03T13:00 --by Yuliana --note "Dasar hukum ditambahkan"
sop decide "$R" Ya --now 2026-08-03T14:00 --by "Hasan Basri"
sop complete "$R" --now 2026-08-04T09:00 --by "Kepala Satuan" --output "Surat yang sudah ditandatangani Kasat=docs/surat-edaran-ditandatangani.txt"
sop complete "$R" --now 2026-08-04T09:30 --by "Hasan Basri"
sop complete "$R" --now 2026-08-04T10:00 --by Maya --output "Dukumen surat keluar.=docs/surat-edaran-terkirim.txt"

# -- surat-keluar: the Tidak loop of row 3 taken, in flight at the decision of row 4 -------
# The typist is assigned only after the first typing: that visit stays by someone not assigned.
start surat-undangan surat-keluar --now 2026-09-01T08:00 --by Yuliana
R=${RUN[surat-undangan]}
sop complete "$R" --now 2026-09-01T08:30 --by Yuliana --output "Konsep surat=docs/konsep-surat-undangan.txt"
sop complete "$R" --now 2026-09-01T09:00 --by Maya --output "Konsep surat yang sudah diketik=docs/konsep-surat-undangan-diketik.txt"
sop decide "$R" Tidak --now 2026-09-01T09:30 --by Yuliana --note "Nomor surat salah"
sop assign "$R" pengadministrasi-umum "Maya Sari" --now 2026-09-01T09:35 --by Yuliana
sop complete "$R" --now 2026-09-01T10:00 --by "Maya Sari" --output "Konsep surat yang sudah diketik=docs/konsep-surat-undangan-diketik-2.txt"
sop decide "$R" Ya --now 2026-09-01T10:30 --by Yuliana

# -- surat-keluar: cancelled -----------------------------------------------------------------
start surat-batal surat-keluar --now 2026-09-14T08:00 --by Yuliana
R=${RUN[surat-batal]}
sop complete "$R" --now 2026-09-14T08:30 --by Yuliana
sop cancel "$R" --reason "Dimulai dua kali" --now 2026-09-14T10:00 --by Yuliana

# -- permohonan-informasi-publik: the TIDAK loop taken, in flight in row 6 (two lanes) ----
# The unit's lane of row 6 is done; the PPID's lane (assigned) is open.
start informasi-anggaran permohonan-informasi-publik --now 2026-10-05T09:00 --by Rina
R=${RUN[informasi-anggaran]}
sop complete "$R" --now 2026-10-05T09:10 --by Rina --on-behalf "Budi Santoso"
sop decide "$R" TIDAK --now 2026-10-05T09:20 --by Rina --note "Fotokopi KTP tidak terbaca"
sop complete "$R" --now 2026-10-06T09:10 --by Rina --on-behalf "Budi Santoso"
sop decide "$R" YA --now 2026-10-06T09:20 --by Rina --output "Formulir Permohonan Informasi=docs/formulir-permohonan.txt"
sop complete "$R" --now 2026-10-06T10:00 --by Rina
sop assign "$R" ppid "Dewi Lestari" --now 2026-10-06T10:05 --by Rina
sop complete "$R" --now 2026-10-06T11:00 --by "Dewi Lestari"
sop complete "$R" --now 2026-10-07T11:00 --by Hadi --note "Data ada di Bidang Anggaran"
sop complete "$R" --now 2026-10-08T11:00 --by Hadi

# -- permohonan-informasi-publik: just started, its first step (the citizen's) open -------
start informasi-baru permohonan-informasi-publik --now 2026-11-16T10:00 --by Rina

# -- what the release says about it -------------------------------------------------------
sop audit verify --json > verify.json
sop audit verify
PAIRS=()
for label in "${!RUN[@]}"; do
    PAIRS+=("$label" "${RUN[$label]}")
done
python3 - "$OUT" "${PAIRS[@]}" <<'EOF'
import json, sqlite3, sys
from pathlib import Path

out = Path(sys.argv[1])
pairs = sys.argv[2:]
labels = dict(zip(pairs[0::2], pairs[1::2]))
con = sqlite3.connect(out / "sopengine.db")
runs = []
for label, run_id in labels.items():
    definition, period, status = con.execute(
        "SELECT definition_id, period, status FROM runs WHERE id = ?", (run_id,)).fetchone()
    open_steps = [r[0] for r in con.execute(
        "SELECT step_id FROM tasks WHERE run_id = ? AND state = 'open' ORDER BY id", (run_id,))]
    runs.append({"label": label, "run_id": run_id, "definition": definition, "period": period,
                 "status": status, "open_steps": open_steps})
runs.sort(key=lambda r: min(con.execute("SELECT MIN(seq) FROM events WHERE run_id = ?", (r["run_id"],)).fetchone()))
(out / "runs.json").write_text(json.dumps(runs, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
EOF
echo "wrote $OUT/sopengine.db, $OUT/runs.json, $OUT/verify.json"
