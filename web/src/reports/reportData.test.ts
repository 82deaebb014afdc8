import { describe, expect, it } from "vitest";
import { toCsv } from "./csv";
import {
  domainRows,
  domainTable,
  exclusionRows,
  exclusionTable,
  funnelStages,
  funnelTable,
  linkLabels,
  linkRows,
  linkTable,
  nothingSent,
  percent,
  periodFigures,
  reasonLabel,
  scopeBlock,
  significanceText,
  timelineEmpty,
  timelineSeries,
  timelineTable,
  variantRows,
  variantTable,
  type Figures,
  type Report,
} from "./reportData";

const figures = (over: Partial<Figures> = {}): Figures => ({
  targeted: 12,
  excluded: { no_address: 2, invalid_address: 2, no_consent: 2 },
  pending: 0,
  sent: 5,
  delivered: 3,
  bounces: { hard: 1, soft: 1 },
  errors: 1,
  opens: { total: 3, unique: 2, machine: 2 },
  clicks: { total: 4, unique: 2, machine: 1 },
  unsubscribes: 1,
  complaints: 1,
  ctr: 0.6667,
  ctr_basis: "delivered",
  ctor: 1.0,
  ...over,
});

const zero = figures({
  targeted: 0,
  excluded: {},
  sent: 0,
  delivered: 0,
  bounces: { hard: 0, soft: 0 },
  errors: 0,
  opens: { total: 0, unique: 0, machine: 0 },
  clicks: { total: 0, unique: 0, machine: 0 },
  unsubscribes: 0,
  complaints: 0,
  ctr: null,
  ctor: null,
});

const domains = [
  { domain: "example.com", targeted: 8, sent: 5, delivered: 3, bounced: 2, opens: 2, clicks: 2, unsubscribes: 1, complaints: 1 },
  { domain: "(none)", targeted: 3, sent: 0, delivered: 0, bounced: 0, opens: 0, clicks: 0, unsubscribes: 0, complaints: 0 },
];
const hourly = [
  { at: "2027-03-01T08:00:00+00:00", sent: 5, opens: 0, clicks: 0 },
  { at: "2027-03-01T09:00:00+00:00", sent: 0, opens: 1, clicks: 2 },
  { at: "2027-03-01T12:00:00+00:00", sent: 0, opens: 1, clicks: 1 },
];
const daily = [{ at: "2027-03-01T00:00:00+00:00", sent: 5, opens: 2, clicks: 3 }];

/** The shape GET /api/campaigns/news/report answers (the scenario of tests/reports). */
const report: Report = {
  campaign: "news",
  run: null,
  activity: null,
  runs: 1,
  now: "2027-03-02T09:30:00+00:00",
  windows: { last_24h: { from: "2027-03-01T09:30:00+00:00", to: "2027-03-02T09:30:00+00:00" } },
  include_machine: false,
  totals: { ...figures(), last_24h: zero, domains, timeline: { hourly, daily } },
  activities: {
    mail: {
      channel: "email",
      ...figures(),
      last_24h: zero,
      links: [
        { link: 0, url: "https://shop.example/a", clicks: 3, unique: 2, machine: 0 },
        { link: 1, url: "https://shop.example/b?x=1,2", clicks: 1, unique: 1, machine: 1 },
      ],
      domains,
      variants: [],
      timeline: { hourly, daily },
    },
    promo: {
      channel: "email",
      ...zero,
      last_24h: zero,
      links: [{ link: 0, url: "https://shop.example/c" }],
      domains: [],
      variants: [
        { variant: "a", sent: 100, delivered: 98, opens: 40, clicks: 10, click_rate: 0.102, baseline: true, lift: null, z: null, p_value: null, significant: false, enough_data: null },
        { variant: "b", sent: 100, delivered: 97, opens: 50, clicks: 25, click_rate: 0.2577, baseline: false, lift: 1.5258, z: 2.9, p_value: 0.003712, significant: true, enough_data: true },
      ],
      timeline: { hourly: [], daily: [] },
    },
  },
  by_run: [],
};

describe("scope and period", () => {
  it("reads the activity's block, else the totals", () => {
    expect(scopeBlock(report, null)).toBe(report.totals);
    expect(scopeBlock(report, "promo")).toBe(report.activities.promo);
    expect(scopeBlock(report, "gone")).toBe(report.totals);
  });

  it("reads the window's figures for the last 24 hours", () => {
    expect(periodFigures(report.totals, "all").sent).toBe(5);
    expect(periodFigures(report.totals, "last_24h").sent).toBe(0);
    expect(periodFigures({ ...figures() }, "last_24h").sent).toBe(0);
  });
});

describe("funnel", () => {
  it("has every stage with its count and share of sent", () => {
    const stages = funnelStages(figures());
    expect(stages.map((s) => [s.stage, s.count, s.percentOfSent])).toEqual([
      ["targeted", 12, null],
      ["sent", 5, 100],
      ["delivered", 3, 60],
      ["opened", 2, 40],
      ["clicked", 2, 40],
      ["bounced", 2, 40],
      ["unsubscribed", 1, 20],
      ["complained", 1, 20],
      ["failed", 1, 20],
    ]);
    expect(toCsv(funnelTable(stages)).split("\r\n").slice(0, 3)).toEqual([
      "stage,count,percent_of_sent",
      "targeted,12,",
      "sent,5,100",
    ]);
  });

  it("knows when nothing was sent", () => {
    expect(nothingSent(zero)).toBe(true);
    expect(nothingSent(figures())).toBe(false);
    expect(funnelStages(zero).every((s) => s.percentOfSent === null)).toBe(true);
  });

  it("rounds percentages to one decimal", () => {
    expect(percent(1, 3)).toBe(33.3);
    expect(percent(2, 3)).toBe(66.7);
    expect(percent(1, 0)).toBeNull();
  });
});

describe("exclusions", () => {
  it("keeps the server's order and drops zeros", () => {
    const rows = exclusionRows({ no_address: 2, no_consent: 0, frequency_cap: 5, weird_reason: 1 });
    expect(rows).toEqual([
      { reason: "no_address", label: "No address", count: 2 },
      { reason: "frequency_cap", label: "Frequency cap", count: 5 },
      { reason: "weird_reason", label: "Weird reason", count: 1 },
    ]);
    expect(exclusionTable(rows)).toEqual({
      columns: ["reason", "count"],
      rows: [
        ["no_address", 2],
        ["frequency_cap", 5],
        ["weird_reason", 1],
      ],
    });
    expect(exclusionRows(undefined)).toEqual([]);
    expect(reasonLabel("suppressed")).toMatch(/^Suppressed/);
  });
});

describe("links", () => {
  it("lists every activity's links, clicks 0 when missing", () => {
    const rows = linkRows(report, null);
    expect(rows.map((r) => [r.activity, r.link, r.clicks, r.unique, r.machine])).toEqual([
      ["mail", 0, 3, 2, 0],
      ["mail", 1, 1, 1, 1],
      ["promo", 0, 0, 0, 0],
    ]);
    expect(linkLabels(rows)[0]).toBe("mail: https://shop.example/a");
    const one = linkRows(report, "mail");
    expect(linkLabels(one)).toEqual(["https://shop.example/a", "https://shop.example/b?x=1,2"]);
    expect(toCsv(linkTable(one))).toBe(
      "activity,link,url,clicks,unique,machine\r\nmail,0,https://shop.example/a,3,2,0\r\n" +
        'mail,1,"https://shop.example/b?x=1,2",1,1,1\r\n',
    );
  });
});

describe("domains", () => {
  it("reads the block's domains, naming how many (other) adds up", () => {
    const rows = domainRows({ ...report.totals, domains: [...domains, { ...domains[1], domain: "(other)", domains: 4 }] });
    const table = domainTable(rows);
    expect(table.columns).toEqual(["domain", "targeted", "sent", "delivered", "bounced", "opens", "clicks", "unsubscribes", "complaints"]);
    expect(table.rows[0]).toEqual(["example.com", 8, 5, 3, 2, 2, 2, 1, 1]);
    expect(table.rows[2][0]).toBe("(other) (4 domains)");
  });
});

describe("variants", () => {
  it("gives rates and lift as percentages and says what the test says", () => {
    const rows = variantRows(report, null);
    expect(rows.map((v) => [v.activity, v.variant, v.clickRate, v.lift, v.pValue])).toEqual([
      ["promo", "a", 10.2, null, null],
      ["promo", "b", 25.8, 152.6, 0.0037],
    ]);
    expect(rows.map(significanceText)).toEqual(["baseline", "significant"]);
    expect(significanceText({ ...rows[1], enoughData: false })).toBe("not enough data");
    expect(variantTable(rows).rows[1]).toEqual(["promo", "b", false, 100, 97, 50, 25, 25.8, 152.6, 0.0037, true]);
    expect(variantRows(report, "mail")).toEqual([]);
  });
});

describe("timeline", () => {
  it("fills the empty buckets between the first and the last", () => {
    const s = timelineSeries(hourly, "hourly");
    expect(s.times.length).toBe(5);
    expect(s.sent).toEqual([5, 0, 0, 0, 0]);
    expect(s.opens).toEqual([0, 1, 0, 0, 1]);
    expect(s.clicks).toEqual([0, 2, 0, 0, 1]);
    expect(timelineTable(s).rows[1]).toEqual(["2027-03-01T09:00:00Z", 0, 1, 2]);
    expect(timelineEmpty(s)).toBe(false);
  });

  it("is empty without buckets", () => {
    const s = timelineSeries([], "daily");
    expect(s.times).toEqual([]);
    expect(timelineEmpty(s)).toBe(true);
    expect(timelineTable(s)).toEqual({ columns: ["bucket_start_utc", "sent", "opens", "clicks"], rows: [] });
  });

  it("keeps the window's buckets only, all of them", () => {
    const s = timelineSeries(hourly, "hourly", report.windows.last_24h);
    expect(s.times.length).toBe(25);
    expect(s.times[0]).toBe(Date.UTC(2027, 2, 1, 9));
    expect(s.opens[0]).toBe(1);
    expect(s.sent.every((v) => v === 0)).toBe(true);
    const d = timelineSeries(daily, "daily", report.windows.last_24h);
    expect(d.times).toEqual([Date.UTC(2027, 2, 1), Date.UTC(2027, 2, 2)]);
  });

  it("does not fill years of hours", () => {
    const far = [
      { at: "2020-01-01T00:00:00Z", sent: 1, opens: 0, clicks: 0 },
      { at: "2027-01-01T00:00:00Z", sent: 2, opens: 0, clicks: 0 },
    ];
    expect(timelineSeries(far, "hourly").sent).toEqual([1, 2]);
  });
});
