/**
 * The assets trades are drawn from: real US tickers with their issuers' names, plus the funds,
 * bonds and municipal securities that fill periodic transaction reports. Order matters: within a
 * type, earlier assets are traded more often (weights.ts gives them Zipf weights).
 */

export type AssetType = 'Stock' | 'Stock Option' | 'ETF' | 'Mutual Fund' | 'Corporate Bond' | 'Municipal Security' | 'Cryptocurrency';

export interface Asset {
  readonly ticker: string | null;
  readonly name: string;
  readonly type: AssetType;
}

/** Share of all trades per asset type; stocks dominate, as in the Clerk's filings. */
export const TYPE_SHARE: Readonly<Record<AssetType, number>> = {
  Stock: 0.79,
  'Stock Option': 0.04,
  ETF: 0.07,
  'Mutual Fund': 0.03,
  'Corporate Bond': 0.03,
  'Municipal Security': 0.03,
  Cryptocurrency: 0.01,
};

/** [ticker, name], most traded first. */
const STOCKS: readonly (readonly [string, string])[] = [
  ['NVDA', 'NVIDIA Corporation'], ['MSFT', 'Microsoft Corporation'], ['AAPL', 'Apple Inc.'],
  ['AMZN', 'Amazon.com, Inc.'], ['GOOGL', 'Alphabet Inc. Class A'], ['META', 'Meta Platforms, Inc.'],
  ['TSLA', 'Tesla, Inc.'], ['AVGO', 'Broadcom Inc.'], ['JPM', 'JPMorgan Chase & Co.'],
  ['AMD', 'Advanced Micro Devices, Inc.'], ['NFLX', 'Netflix, Inc.'], ['CRM', 'Salesforce, Inc.'],
  ['DIS', 'The Walt Disney Company'], ['BAC', 'Bank of America Corporation'], ['V', 'Visa Inc.'],
  ['MA', 'Mastercard Incorporated'], ['UNH', 'UnitedHealth Group Incorporated'], ['XOM', 'Exxon Mobil Corporation'],
  ['PANW', 'Palo Alto Networks, Inc.'], ['LLY', 'Eli Lilly and Company'], ['GOOG', 'Alphabet Inc. Class C'],
  ['COST', 'Costco Wholesale Corporation'], ['WMT', 'Walmart Inc.'], ['INTC', 'Intel Corporation'],
  ['PFE', 'Pfizer Inc.'], ['JNJ', 'Johnson & Johnson'], ['BRK.B', 'Berkshire Hathaway Inc. Class B'],
  ['CVX', 'Chevron Corporation'], ['PLTR', 'Palantir Technologies Inc.'], ['ORCL', 'Oracle Corporation'],
  ['ADBE', 'Adobe Inc.'], ['QCOM', 'QUALCOMM Incorporated'], ['MU', 'Micron Technology, Inc.'],
  ['CSCO', 'Cisco Systems, Inc.'], ['HD', 'The Home Depot, Inc.'], ['PG', 'The Procter & Gamble Company'],
  ['KO', 'The Coca-Cola Company'], ['PEP', 'PepsiCo, Inc.'], ['ABBV', 'AbbVie Inc.'],
  ['MRK', 'Merck & Co., Inc.'], ['T', 'AT&T Inc.'], ['VZ', 'Verizon Communications Inc.'],
  ['WFC', 'Wells Fargo & Company'], ['GS', 'The Goldman Sachs Group, Inc.'], ['MS', 'Morgan Stanley'],
  ['C', 'Citigroup Inc.'], ['SCHW', 'The Charles Schwab Corporation'], ['BA', 'The Boeing Company'],
  ['LMT', 'Lockheed Martin Corporation'], ['RTX', 'RTX Corporation'], ['NOC', 'Northrop Grumman Corporation'],
  ['GD', 'General Dynamics Corporation'], ['CAT', 'Caterpillar Inc.'], ['DE', 'Deere & Company'],
  ['GE', 'GE Aerospace'], ['HON', 'Honeywell International Inc.'], ['MMM', '3M Company'],
  ['UPS', 'United Parcel Service, Inc.'], ['FDX', 'FedEx Corporation'], ['UBER', 'Uber Technologies, Inc.'],
  ['ABNB', 'Airbnb, Inc.'], ['SHOP', 'Shopify Inc.'], ['SQ', 'Block, Inc.'],
  ['PYPL', 'PayPal Holdings, Inc.'], ['COIN', 'Coinbase Global, Inc.'], ['HOOD', 'Robinhood Markets, Inc.'],
  ['SNOW', 'Snowflake Inc.'], ['CRWD', 'CrowdStrike Holdings, Inc.'], ['NOW', 'ServiceNow, Inc.'],
  ['INTU', 'Intuit Inc.'], ['IBM', 'International Business Machines Corporation'], ['TXN', 'Texas Instruments Incorporated'],
  ['AMAT', 'Applied Materials, Inc.'], ['LRCX', 'Lam Research Corporation'], ['KLAC', 'KLA Corporation'],
  ['ASML', 'ASML Holding N.V.'], ['TSM', 'Taiwan Semiconductor Manufacturing Company Limited'], ['ARM', 'Arm Holdings plc'],
  ['SMCI', 'Super Micro Computer, Inc.'], ['DELL', 'Dell Technologies Inc.'], ['HPQ', 'HP Inc.'],
  ['ANET', 'Arista Networks, Inc.'], ['MRVL', 'Marvell Technology, Inc.'], ['ON', 'ON Semiconductor Corporation'],
  ['NKE', 'NIKE, Inc.'], ['SBUX', 'Starbucks Corporation'], ['MCD', "McDonald's Corporation"],
  ['CMG', 'Chipotle Mexican Grill, Inc.'], ['LOW', "Lowe's Companies, Inc."], ['TGT', 'Target Corporation'],
  ['TJX', 'The TJX Companies, Inc.'], ['BKNG', 'Booking Holdings Inc.'], ['MAR', 'Marriott International, Inc.'],
  ['F', 'Ford Motor Company'], ['GM', 'General Motors Company'], ['RIVN', 'Rivian Automotive, Inc.'],
  ['TMO', 'Thermo Fisher Scientific Inc.'], ['ABT', 'Abbott Laboratories'], ['DHR', 'Danaher Corporation'],
  ['ISRG', 'Intuitive Surgical, Inc.'], ['MDT', 'Medtronic plc'], ['SYK', 'Stryker Corporation'],
  ['BMY', 'Bristol-Myers Squibb Company'], ['AMGN', 'Amgen Inc.'], ['GILD', 'Gilead Sciences, Inc.'],
  ['REGN', 'Regeneron Pharmaceuticals, Inc.'], ['VRTX', 'Vertex Pharmaceuticals Incorporated'], ['MRNA', 'Moderna, Inc.'],
  ['CVS', 'CVS Health Corporation'], ['CI', 'The Cigna Group'], ['ELV', 'Elevance Health, Inc.'],
  ['HUM', 'Humana Inc.'], ['NVO', 'Novo Nordisk A/S'], ['ZTS', 'Zoetis Inc.'],
  ['COP', 'ConocoPhillips'], ['OXY', 'Occidental Petroleum Corporation'], ['SLB', 'Schlumberger Limited'],
  ['EOG', 'EOG Resources, Inc.'], ['PSX', 'Phillips 66'], ['MPC', 'Marathon Petroleum Corporation'],
  ['NEE', 'NextEra Energy, Inc.'], ['DUK', 'Duke Energy Corporation'], ['SO', 'The Southern Company'],
  ['D', 'Dominion Energy, Inc.'], ['AEP', 'American Electric Power Company, Inc.'], ['EXC', 'Exelon Corporation'],
  ['CEG', 'Constellation Energy Corporation'], ['VST', 'Vistra Corp.'], ['ENPH', 'Enphase Energy, Inc.'],
  ['FSLR', 'First Solar, Inc.'], ['BLK', 'BlackRock, Inc.'], ['AXP', 'American Express Company'],
  ['COF', 'Capital One Financial Corporation'], ['USB', 'U.S. Bancorp'], ['PNC', 'The PNC Financial Services Group, Inc.'],
  ['TFC', 'Truist Financial Corporation'], ['MET', 'MetLife, Inc.'], ['PRU', 'Prudential Financial, Inc.'],
  ['AIG', 'American International Group, Inc.'], ['CB', 'Chubb Limited'], ['PGR', 'The Progressive Corporation'],
  ['ICE', 'Intercontinental Exchange, Inc.'], ['CME', 'CME Group Inc.'], ['SPGI', 'S&P Global Inc.'],
  ['MCO', "Moody's Corporation"], ['KKR', 'KKR & Co. Inc.'], ['BX', 'Blackstone Inc.'],
  ['AMT', 'American Tower Corporation'], ['PLD', 'Prologis, Inc.'], ['CCI', 'Crown Castle Inc.'],
  ['EQIX', 'Equinix, Inc.'], ['O', 'Realty Income Corporation'], ['SPG', 'Simon Property Group, Inc.'],
  ['CMCSA', 'Comcast Corporation'], ['CHTR', 'Charter Communications, Inc.'], ['TMUS', 'T-Mobile US, Inc.'],
  ['WBD', 'Warner Bros. Discovery, Inc.'], ['PARA', 'Paramount Global'], ['SPOT', 'Spotify Technology S.A.'],
  ['EA', 'Electronic Arts Inc.'], ['TTWO', 'Take-Two Interactive Software, Inc.'], ['RBLX', 'Roblox Corporation'],
  ['ZM', 'Zoom Video Communications, Inc.'], ['DOCU', 'DocuSign, Inc.'], ['DDOG', 'Datadog, Inc.'],
  ['NET', 'Cloudflare, Inc.'], ['ZS', 'Zscaler, Inc.'], ['OKTA', 'Okta, Inc.'],
  ['FTNT', 'Fortinet, Inc.'], ['WDAY', 'Workday, Inc.'], ['TEAM', 'Atlassian Corporation'],
  ['MDB', 'MongoDB, Inc.'], ['U', 'Unity Software Inc.'], ['DASH', 'DoorDash, Inc.'],
  ['LYFT', 'Lyft, Inc.'], ['ETSY', 'Etsy, Inc.'], ['EBAY', 'eBay Inc.'],
  ['BABA', 'Alibaba Group Holding Limited'], ['JD', 'JD.com, Inc.'], ['PDD', 'PDD Holdings Inc.'],
  ['KHC', 'The Kraft Heinz Company'], ['MDLZ', 'Mondelez International, Inc.'], ['GIS', 'General Mills, Inc.'],
  ['MO', 'Altria Group, Inc.'], ['PM', 'Philip Morris International Inc.'], ['CL', 'Colgate-Palmolive Company'],
  ['KMB', 'Kimberly-Clark Corporation'], ['EL', 'The Estee Lauder Companies Inc.'], ['ADM', 'Archer-Daniels-Midland Company'],
  ['TSN', 'Tyson Foods, Inc.'], ['HSY', 'The Hershey Company'], ['STZ', 'Constellation Brands, Inc.'],
  ['UNP', 'Union Pacific Corporation'], ['CSX', 'CSX Corporation'], ['NSC', 'Norfolk Southern Corporation'],
  ['DAL', 'Delta Air Lines, Inc.'], ['UAL', 'United Airlines Holdings, Inc.'], ['AAL', 'American Airlines Group Inc.'],
  ['LUV', 'Southwest Airlines Co.'], ['CCL', 'Carnival Corporation & plc'], ['RCL', 'Royal Caribbean Cruises Ltd.'],
  ['LIN', 'Linde plc'], ['APD', 'Air Products and Chemicals, Inc.'], ['DOW', 'Dow Inc.'],
  ['DD', 'DuPont de Nemours, Inc.'], ['NEM', 'Newmont Corporation'], ['FCX', 'Freeport-McMoRan Inc.'],
  ['NUE', 'Nucor Corporation'], ['X', 'United States Steel Corporation'], ['ALB', 'Albemarle Corporation'],
  ['WM', 'Waste Management, Inc.'], ['RSG', 'Republic Services, Inc.'], ['ETN', 'Eaton Corporation plc'],
  ['EMR', 'Emerson Electric Co.'], ['ITW', 'Illinois Tool Works Inc.'], ['PH', 'Parker-Hannifin Corporation'],
  ['LHX', 'L3Harris Technologies, Inc.'], ['HII', 'Huntington Ingalls Industries, Inc.'], ['TDG', 'TransDigm Group Incorporated'],
  ['AXON', 'Axon Enterprise, Inc.'], ['DKNG', 'DraftKings Inc.'], ['MSTR', 'MicroStrategy Incorporated'],
];

/** The few option positions members disclose: the most traded stocks, mostly calls. */
const OPTIONS: readonly (readonly [string, string])[] = [
  ['NVDA', 'NVIDIA Corporation - Call Options'], ['MSFT', 'Microsoft Corporation - Call Options'],
  ['AAPL', 'Apple Inc. - Call Options'], ['GOOGL', 'Alphabet Inc. Class A - Call Options'],
  ['AMZN', 'Amazon.com, Inc. - Call Options'], ['TSLA', 'Tesla, Inc. - Put Options'],
  ['CRM', 'Salesforce, Inc. - Call Options'], ['PANW', 'Palo Alto Networks, Inc. - Call Options'],
  ['META', 'Meta Platforms, Inc. - Call Options'], ['AVGO', 'Broadcom Inc. - Call Options'],
  ['DIS', 'The Walt Disney Company - Call Options'], ['AMD', 'Advanced Micro Devices, Inc. - Put Options'],
];

const ETFS: readonly (readonly [string, string])[] = [
  ['SPY', 'SPDR S&P 500 ETF Trust'], ['QQQ', 'Invesco QQQ Trust, Series 1'], ['VOO', 'Vanguard S&P 500 ETF'],
  ['IVV', 'iShares Core S&P 500 ETF'], ['VTI', 'Vanguard Total Stock Market ETF'], ['IWM', 'iShares Russell 2000 ETF'],
  ['DIA', 'SPDR Dow Jones Industrial Average ETF Trust'], ['XLK', 'Technology Select Sector SPDR Fund'],
  ['SMH', 'VanEck Semiconductor ETF'], ['XLF', 'Financial Select Sector SPDR Fund'], ['XLE', 'Energy Select Sector SPDR Fund'],
  ['SCHD', 'Schwab U.S. Dividend Equity ETF'], ['VEA', 'Vanguard FTSE Developed Markets ETF'],
  ['VWO', 'Vanguard FTSE Emerging Markets ETF'], ['AGG', 'iShares Core U.S. Aggregate Bond ETF'],
  ['BND', 'Vanguard Total Bond Market ETF'], ['TLT', 'iShares 20+ Year Treasury Bond ETF'], ['GLD', 'SPDR Gold Shares'],
  ['ARKK', 'ARK Innovation ETF'], ['IBIT', 'iShares Bitcoin Trust ETF'],
];

/** Funds; the Thrift Savings Plan funds and annuity accounts have no ticker. */
const MUTUAL_FUNDS: readonly (readonly [string | null, string])[] = [
  ['VFIAX', 'Vanguard 500 Index Fund Admiral Shares'], ['FXAIX', 'Fidelity 500 Index Fund'],
  ['VTSAX', 'Vanguard Total Stock Market Index Fund Admiral Shares'], [null, 'Thrift Savings Plan C Fund'],
  ['FCNTX', 'Fidelity Contrafund'], [null, 'Thrift Savings Plan G Fund'],
  ['AGTHX', 'American Funds The Growth Fund of America Class A'], ['VTIAX', 'Vanguard Total International Stock Index Fund Admiral Shares'],
  [null, 'Thrift Savings Plan I Fund'], ['VWELX', 'Vanguard Wellington Fund Investor Shares'],
  ['PTTRX', 'PIMCO Total Return Fund Institutional Class'], [null, 'TIAA Real Estate Account'],
];

const CORPORATE_BONDS: readonly string[] = [
  'Apple Inc. 3.850% Notes due 05/04/2043',
  'Microsoft Corporation 2.400% Notes due 08/08/2026',
  'JPMorgan Chase & Co. 4.250% Notes due 10/01/2027',
  'Verizon Communications Inc. 4.329% Notes due 09/21/2028',
  'Bank of America Corporation 3.248% Notes due 10/21/2027',
  'AT&T Inc. 3.500% Notes due 06/01/2041',
  'Oracle Corporation 2.875% Notes due 03/25/2031',
  'Amazon.com, Inc. 4.050% Notes due 08/22/2047',
  'The Goldman Sachs Group, Inc. 3.500% Notes due 04/01/2025',
  'Comcast Corporation 3.950% Notes due 10/15/2025',
  'The Boeing Company 5.150% Notes due 05/01/2030',
  'Ford Motor Credit Company LLC 4.950% Notes due 05/28/2027',
];

const MUNICIPAL_SECURITIES: readonly string[] = [
  'California St GO Bonds 5.000% due 10/01/2031',
  'New York City NY GO Bonds 5.000% due 08/01/2033',
  'Texas Transportation Commission Revenue Bonds 4.000% due 04/01/2036',
  'Massachusetts St GO Bonds 5.000% due 11/01/2030',
  'Illinois St GO Bonds 5.500% due 05/01/2039',
  'Florida St Board of Education Public Education Capital Outlay 4.000% due 06/01/2034',
  'Washington St GO Bonds 5.000% due 08/01/2040',
  'Port Authority of New York and New Jersey Consolidated Bonds 5.000% due 09/01/2038',
  'Ohio St Water Development Authority Revenue Bonds 5.000% due 12/01/2032',
  'Virginia College Building Authority Educational Facilities 4.000% due 02/01/2035',
  'Maryland St GO Bonds 5.000% due 03/15/2029',
  'Los Angeles CA Department of Water and Power Revenue Bonds 5.000% due 07/01/2044',
];

/** Coins are reported by name; a few filings give the symbol. */
const CRYPTOCURRENCIES: readonly (readonly [string | null, string])[] = [
  ['BTC', 'Bitcoin'], ['ETH', 'Ethereum'], [null, 'Solana'], [null, 'Cardano'],
];

/** Every asset; stocks first, so the stock indexes are 0 .. STOCK_COUNT − 1. */
export const ASSETS: readonly Asset[] = [
  ...STOCKS.map(([ticker, name]): Asset => ({ ticker, name, type: 'Stock' })),
  ...OPTIONS.map(([ticker, name]): Asset => ({ ticker, name, type: 'Stock Option' })),
  ...ETFS.map(([ticker, name]): Asset => ({ ticker, name, type: 'ETF' })),
  ...MUTUAL_FUNDS.map(([ticker, name]): Asset => ({ ticker, name, type: 'Mutual Fund' })),
  ...CORPORATE_BONDS.map((name): Asset => ({ ticker: null, name, type: 'Corporate Bond' })),
  ...MUNICIPAL_SECURITIES.map((name): Asset => ({ ticker: null, name, type: 'Municipal Security' })),
  ...CRYPTOCURRENCIES.map(([ticker, name]): Asset => ({ ticker, name, type: 'Cryptocurrency' })),
];

export const STOCK_COUNT = STOCKS.length;
