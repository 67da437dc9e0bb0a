/// The HTML report's style sheet: a system font stack, quiet greys, red for regressions and green
/// for improvements, and a print layout that keeps charts and rows whole and prints colours.
///
/// It must stay free of `<` and `&` so that the report is also well-formed XML.
enum HTMLStyle {
    static let sheet = Markup.trusted("""
    :root {
      --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --panel: #f9fafb;
      --red: #dc2626; --red-bg: #fef2f2; --green: #16a34a; --green-bg: #f0fdf4;
      --amber: #b45309; --amber-bg: #fffbeb; --blue: #1d4ed8; --blue-bg: #eff6ff;
    }
    * { box-sizing: border-box; }
    html { -webkit-text-size-adjust: 100%; }
    body {
      margin: 0; color: var(--ink); background: #ffffff;
      font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif;
    }
    main { max-width: 1240px; margin: 0 auto; padding: 32px 40px 64px; }
    h1 { font-size: 28px; line-height: 1.2; margin: 0 0 4px; letter-spacing: -0.01em; }
    h2 { font-size: 21px; margin: 44px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
    h3 { font-size: 17px; margin: 32px 0 10px; }
    h3 .count { font-size: 13px; font-weight: 400; }
    .muted { color: var(--muted); }
    code, .param, .metric-name {
      font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px;
    }
    .param { display: inline-block; background: #f3f4f6; border-radius: 4px; padding: 0 5px; margin: 1px 3px 1px 0; white-space: nowrap; }
    .scenario-name { font-weight: 600; }
    .hostname { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
    nav.contents { display: flex; flex-wrap: wrap; gap: 6px 16px; margin-top: 10px; font-size: 13px; }
    nav.contents a { color: var(--blue); text-decoration: none; }
    nav.contents a:hover { text-decoration: underline; }

    .banner { margin: 12px 0; padding: 10px 14px; border-radius: 6px; border-left: 4px solid; }
    .banner.warn { background: var(--amber-bg); border-color: #f59e0b; }
    .banner.info { background: var(--blue-bg); border-color: #3b82f6; }
    .banner.bad { background: var(--red-bg); border-color: var(--red); }

    .card-row { display: flex; flex-wrap: wrap; align-items: stretch; gap: 10px; margin: 18px 0; }
    .card-row-title { flex: 0 0 100%; margin: 0; padding: 0; border: 0; font-size: 12px; font-weight: 600;
      text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); }
    .card { min-width: 120px; padding: 10px 16px; border: 1px solid var(--line); border-radius: 8px; background: var(--panel); }
    .card .value { font-size: 26px; font-weight: 650; line-height: 1.2; font-variant-numeric: tabular-nums; }
    .card .label { font-size: 12px; color: var(--muted); }
    .card .detail { font-size: 11px; color: var(--muted); }
    .card.zero .value { color: #c0c4cc; }
    .card.v-regressed, .card.s-failed { background: var(--red-bg); border-color: #fecaca; }
    .card.v-regressed .value, .card.s-failed .value { color: var(--red); }
    .card.v-improved, .card.s-ok { background: var(--green-bg); border-color: #bbf7d0; }
    .card.v-improved .value, .card.s-ok .value { color: var(--green); }
    .card.v-noisy .value, .card.v-cannot-decide .value, .card.s-unsupported .value { color: var(--amber); }
    .card.duration .value { font-size: 20px; padding-top: 4px; }

    .table-wrap { overflow-x: auto; margin: 8px 0 16px; }
    table { border-collapse: collapse; width: 100%; font-size: 13px; }
    table.fingerprint, table.sides, table.runs, table.compact, table.host-differences { width: auto; min-width: 50%; }
    th { text-align: left; font-weight: 600; font-size: 12px; color: var(--muted); padding: 6px 10px;
      border-bottom: 2px solid var(--line); white-space: nowrap; }
    td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
    td.case { background: #fcfcfd; border-right: 1px solid var(--line); min-width: 180px; }
    .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    td.median { font-weight: 600; }
    td.why { color: var(--muted); font-size: 12px; }
    tr.zero td { color: #b0b4bb; }
    tr.v-regressed td { background: var(--red-bg); }
    tr.v-regressed td.change { color: var(--red); font-weight: 650; }
    tr.v-improved td.change { color: var(--green); font-weight: 650; }
    tr.v-noisy td.change, tr.v-cannot-decide td.change { color: var(--amber); }
    tr.v-unchanged td.change, tr.v-not-significant td.change { color: var(--muted); }

    dl.overview { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; margin: 14px 0; font-size: 13px; }
    dl.overview dt { font-weight: 600; }
    dl.overview dd { margin: 0; }
    .badge + .badge { margin-left: 4px; }
    table.compare { table-layout: fixed; width: 100%; margin: 4px 0 10px; font-size: 12.5px; }
    table.compare th, table.compare td { padding: 2px 8px; line-height: 1.45; white-space: nowrap; overflow: hidden;
      text-overflow: ellipsis; text-align: right; font-variant-numeric: tabular-nums; }
    table.compare td:first-child, table.compare td.metric-name, table.compare td.verdict,
    table.compare th.c-case, table.compare th.c-metric, table.compare th.c-verdict { text-align: left; }
    table.compare th.c-before, table.compare th.c-after { width: 92px; }
    table.compare th.c-change { width: 80px; }
    table.compare th.c-ratio { width: 150px; }
    table.compare th.c-threshold { width: 88px; }
    table.compare th.c-p { width: 70px; }
    table.compare th.c-detectable { width: 94px; }
    table.compare th.c-verdict { width: 128px; }
    table.compare.changes th.c-verdict { width: 190px; }
    tr.v-regressed .badge { background: #fee2e2; color: #b91c1c; }
    tr.v-improved .badge { background: #dcfce7; color: #15803d; }
    tr.v-noisy .badge, tr.v-cannot-decide .badge { background: #fef3c7; color: var(--amber); }
    .case-block { margin: 12px 0 16px; }
    .case-head { font-size: 13px; margin: 0 0 2px; }
    .case-head .badge { font-size: 11px; padding: 0 6px; }
    details.informational { margin: 0 0 6px; padding: 2px 10px; }
    details.informational summary { font-weight: 500; color: var(--muted); }
    details.informational summary .badge { font-size: 11px; padding: 0 6px; }
    figure.chart-figure.forest, figure.chart-figure.trend { flex-basis: 100%; max-width: 934px; }
    svg.chart .forest-heading { font-weight: 650; fill: #111827; }
    svg.chart .forest-label { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 11px; }
    svg.chart .forest-change, svg.chart .forest-verdict { font-size: 11px; font-variant-numeric: tabular-nums; }
    svg.chart .v-regressed.forest-change, svg.chart .v-regressed.forest-verdict { fill: var(--red); font-weight: 650; }
    svg.chart .v-improved.forest-change, svg.chart .v-improved.forest-verdict { fill: var(--green); font-weight: 650; }
    svg.chart .v-noisy.forest-verdict, svg.chart .v-cannot-decide.forest-verdict { fill: var(--amber); }
    svg.chart .change-label { font-size: 11px; font-weight: 650; }

    .badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
      line-height: 1.5; white-space: nowrap; background: #f3f4f6; color: var(--muted); }
    .badge.v-regressed, .badge.s-failed { background: #fee2e2; color: #b91c1c; }
    .badge.v-improved, .badge.s-ok { background: #dcfce7; color: #15803d; }
    .badge.v-noisy, .badge.v-cannot-decide, .badge.s-unsupported { background: #fef3c7; color: var(--amber); }
    .badge.reference { background: var(--blue-bg); color: var(--blue); margin-left: 8px; font-weight: 500; }
    .note { font-size: 12px; color: var(--muted); margin-top: 2px; }
    .note::before { content: "note: "; font-weight: 600; }

    ul.not-run { list-style: none; padding: 0; margin: 8px 0 16px; }
    ul.not-run li { padding: 6px 0; border-bottom: 1px solid var(--line); }
    ul.not-run .reason { margin: 2px 0 0 2px; color: #374151; font-size: 13px; }
    .tally { font-weight: 600; }

    .charts { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 16px; margin: 12px 0 16px; }
    figure.chart-figure { margin: 0; flex: 1 1 520px; max-width: 574px; padding: 6px; border: 1px solid var(--line);
      border-radius: 8px; background: #ffffff; }
    svg.chart { display: block; width: 100%; height: auto; }
    svg.chart text { font-family: inherit; font-size: 12px; fill: #374151; }
    svg.chart .chart-title { font-size: 14px; font-weight: 650; fill: #111827; }
    svg.chart .chart-subtitle, svg.chart .axis-label, svg.chart .bar-values { fill: var(--muted); }
    svg.chart .tick { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }

    details { margin: 6px 0; padding: 6px 12px; border: 1px solid var(--line); border-radius: 6px; background: #ffffff; }
    details[open] { background: var(--panel); }
    summary { cursor: pointer; font-weight: 600; font-size: 13px; }
    details.stats-group { margin: 10px 0 16px; }
    details.kvm-stats { margin: 6px 0; }
    details.kvm-stats summary { font-weight: 500; }
    footer { margin-top: 48px; font-size: 12px; }

    @media (max-width: 720px) { main { padding: 16px; } }
    @media print {
      * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
      body { font-size: 11px; }
      main { max-width: none; padding: 0; }
      nav.contents { display: none; }
      h2, h3 { break-after: avoid; }
      figure.chart-figure, tr, .card, .banner { break-inside: avoid; }
      .table-wrap { overflow: visible; }
      details { border: 0; padding: 0; }
      details::details-content { content-visibility: visible; display: block; }
      a { color: inherit; text-decoration: none; }
    }
    """)
}
