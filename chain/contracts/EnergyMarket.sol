// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IEnergyLedger} from "./IEnergyLedger.sol";

/**
 * @title EnergyMarket — per-interval P2P market, EB for MC (docs/settlement.md, "EnergyMarket").
 * @notice Orders are placed before gate closure with their escrow (a sell locks ledger EB, a buy escrows MC
 * incl. the maximum fee); the uniform-price clearing is computed off chain and submitted once per interval by
 * the settler; the contract checks every fill and conservation. Buyers pay ceil(fill × price / 1000) MC,
 * sellers receive floor(fill × price / 1000); the rounding dust and the fees go to the treasury, so MC is
 * conserved exactly. Filled orders are closed by the settlement; unfilled ones are released (escrow back)
 * by anyone with `releaseOrders` once the interval is settled or expired.
 *
 * Order ids encode their interval: `orderId = interval << 24 | sequence` (≤ 16,777,216 orders per interval).
 * Storage: one slot per order — limitPrice uint128 | amountWh uint64 | feeBps uint16 | flags uint8 | trader
 * uint32 (accounts get a uint32 trader number at their first order) — and one slot per interval.
 */
contract EnergyMarket is AccessControl {
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    bytes32 public constant PARAMETER_ROLE = keccak256("PARAMETER_ROLE");
    uint256 public constant WH = 1e15;
    uint256 public constant MAX_FEE_BPS = 1000;
    uint256 private constant SEQ_BITS = 24;
    uint256 private constant SEQ_MASK = (1 << 24) - 1;
    uint256 private constant SELL = 1 << 208;
    uint256 private constant CANCELLED = 1 << 209;

    enum IntervalStatus {
        Open,
        Settled,
        Expired
    }

    struct Fill {
        uint64 orderId;
        uint64 amountWh;
    }

    struct IntervalState {
        uint32 orderCount;
        IntervalStatus status;
        uint128 price;
        uint64 volumeWh;
    }

    /// Accumulators of one settlement batch.
    struct Batch {
        IEnergyLedger.LockedDebit[] debits;
        IEnergyLedger.Credit[] credits;
        uint256 nd;
        uint256 nc;
        uint256 soldWh;
        uint256 boughtWh;
        uint256 buyersPaid;
        uint256 sellersReceived;
        uint256 fees;
    }

    struct Parameters {
        address treasury;
        uint16 feeBps;
        uint16 discountBps;
        uint32 gateClosureSeconds;
        uint32 settlementDeadlineSeconds;
    }

    IERC20 public immutable meshCoin;
    IEnergyLedger public immutable ledger;
    uint64 public immutable intervalSeconds;

    Parameters private _params;
    uint256 public discountThreshold;
    mapping(uint64 => IntervalState) private _intervals;
    mapping(uint64 => uint256) private _orders;
    mapping(address => uint32) public traderIdOf;
    address[] private _traders;

    error InvalidOrder(string reason);
    error GateClosed(uint64 interval);
    error GateNotClosed(uint64 interval);
    error InsufficientMC(uint256 required);
    error TooManyOrders(uint64 interval);
    error UnknownOrder(uint64 orderId);
    error NotOrderOwner(uint64 orderId);
    error OrderAlreadyCancelled(uint64 orderId);
    error IntervalAlreadySettled(uint64 interval);
    error IntervalAlreadyExpired(uint64 interval);
    error IntervalNotClosed(uint64 interval);
    error SettlementWindowOpen(uint64 interval);
    error OrderNotInInterval(uint64 orderId, uint64 interval);
    error FillsNotAscending();
    error ZeroFill(uint64 orderId);
    error FillExceedsOrder(uint64 orderId, uint64 fill, uint64 amount);
    error PriceBelowAsk(uint64 orderId);
    error PriceAboveBid(uint64 orderId);
    error EnergyNotConserved(uint256 soldWh, uint256 boughtWh);
    error InvalidParameter(string name);
    error TransferFailed();

    event OrderPlaced(
        uint64 indexed orderId, uint64 indexed interval, address indexed owner, bool isSell, uint64 amountWh, uint128 limitPrice
    );
    event OrderCancelled(uint64 indexed orderId);
    event OrderReleased(uint64 indexed orderId);
    event Filled(uint64 indexed orderId, uint64 amountWh, uint256 mcAmount);
    event IntervalSettled(uint64 indexed interval, uint128 price, uint64 volumeWh, uint256 fillCount);
    event IntervalExpired(uint64 indexed interval);
    event ParametersChanged(
        address treasury,
        uint16 feeBps,
        uint16 discountBps,
        uint256 discountThreshold,
        uint32 gateClosureSeconds,
        uint32 settlementDeadlineSeconds
    );

    /**
     * @param admin DEFAULT_ADMIN_ROLE (the Multisig); @param parameters PARAMETER_ROLE (the governance timelock);
     * @param treasury receives fees and rounding dust.
     */
    constructor(
        address admin,
        address settler,
        address parameters,
        IERC20 meshCoin_,
        IEnergyLedger ledger_,
        uint64 intervalSeconds_,
        address treasury,
        uint32 gateClosureSeconds
    ) {
        if (admin == address(0) || treasury == address(0)) revert InvalidParameter("address");
        if (intervalSeconds_ == 0) revert InvalidParameter("intervalSeconds");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (settler != address(0)) _grantRole(SETTLER_ROLE, settler);
        if (parameters != address(0)) _grantRole(PARAMETER_ROLE, parameters);
        meshCoin = meshCoin_;
        ledger = ledger_;
        intervalSeconds = intervalSeconds_;
        _traders.push(address(0));
        _setParameters(Parameters(treasury, 10, 5000, gateClosureSeconds, 1 days), 1000e18);
    }

    // ---- parameters (governance) ----

    function parameters()
        external
        view
        returns (
            address treasury,
            uint16 feeBps,
            uint16 discountBps,
            uint256 discountThreshold_,
            uint32 gateClosureSeconds,
            uint32 settlementDeadlineSeconds
        )
    {
        Parameters memory p = _params;
        return (p.treasury, p.feeBps, p.discountBps, discountThreshold, p.gateClosureSeconds, p.settlementDeadlineSeconds);
    }

    function setFee(uint16 feeBps, uint16 discountBps, uint256 discountThreshold_) external onlyRole(PARAMETER_ROLE) {
        Parameters memory p = _params;
        p.feeBps = feeBps;
        p.discountBps = discountBps;
        _setParameters(p, discountThreshold_);
    }

    function setGateClosure(uint32 gateClosureSeconds) external onlyRole(PARAMETER_ROLE) {
        Parameters memory p = _params;
        p.gateClosureSeconds = gateClosureSeconds;
        _setParameters(p, discountThreshold);
    }

    function setSettlementDeadline(uint32 settlementDeadlineSeconds) external onlyRole(PARAMETER_ROLE) {
        Parameters memory p = _params;
        p.settlementDeadlineSeconds = settlementDeadlineSeconds;
        _setParameters(p, discountThreshold);
    }

    function setTreasury(address treasury) external onlyRole(PARAMETER_ROLE) {
        Parameters memory p = _params;
        p.treasury = treasury;
        _setParameters(p, discountThreshold);
    }

    function _setParameters(Parameters memory p, uint256 threshold) private {
        if (p.treasury == address(0)) revert InvalidParameter("treasury");
        if (p.feeBps > MAX_FEE_BPS) revert InvalidParameter("feeBps");
        if (p.discountBps > 10000) revert InvalidParameter("discountBps");
        if (p.gateClosureSeconds > 7 days) revert InvalidParameter("gateClosureSeconds");
        if (p.settlementDeadlineSeconds < 1 hours || p.settlementDeadlineSeconds > 30 days) {
            revert InvalidParameter("settlementDeadlineSeconds");
        }
        _params = p;
        discountThreshold = threshold;
        emit ParametersChanged(
            p.treasury, p.feeBps, p.discountBps, threshold, p.gateClosureSeconds, p.settlementDeadlineSeconds
        );
    }

    // ---- time ----

    /// Unix second at which `interval`'s gate closes (its start minus gateClosureSeconds, floored at 0).
    function gateClosureOf(uint64 interval) public view returns (uint256) {
        uint256 start = uint256(interval) * intervalSeconds;
        uint256 g = _params.gateClosureSeconds;
        return start > g ? start - g : 0;
    }

    // ---- orders ----

    /// Places an order for `interval` with its escrow; returns `interval << 24 | sequence`.
    function placeOrder(uint64 interval, bool isSell, uint64 amountWh, uint128 limitPrice) external returns (uint64 orderId) {
        if (amountWh == 0) revert InvalidOrder("zero amount");
        if (limitPrice == 0) revert InvalidOrder("zero price");
        if (interval >= (1 << 40)) revert InvalidOrder("interval out of range");
        if (block.timestamp >= gateClosureOf(interval)) revert GateClosed(interval);
        IntervalState storage st = _intervals[interval];
        uint256 seq = st.orderCount;
        if (seq > SEQ_MASK) revert TooManyOrders(interval);
        st.orderCount = uint32(seq + 1);
        orderId = uint64((uint256(interval) << SEQ_BITS) | seq);

        uint32 trader = traderIdOf[msg.sender];
        if (trader == 0) {
            trader = uint32(_traders.length);
            _traders.push(msg.sender);
            traderIdOf[msg.sender] = trader;
        }
        uint256 feeBps;
        if (isSell) {
            ledger.lock(msg.sender, uint256(amountWh) * WH);
        } else {
            Parameters memory p = _params;
            feeBps = p.feeBps;
            if (feeBps != 0 && p.discountBps != 0 && meshCoin.balanceOf(msg.sender) >= discountThreshold) {
                feeBps = feeBps * (10000 - p.discountBps) / 10000;
            }
            uint256 escrow = _buyEscrow(amountWh, limitPrice, feeBps);
            try meshCoin.transferFrom(msg.sender, address(this), escrow) returns (bool ok) {
                if (!ok) revert InsufficientMC(escrow);
            } catch {
                revert InsufficientMC(escrow);
            }
        }
        _orders[orderId] = uint256(limitPrice) | (uint256(amountWh) << 128) | (feeBps << 192)
            | (isSell ? SELL : 0) | (uint256(trader) << 224);
        emit OrderPlaced(orderId, interval, msg.sender, isSell, amountWh, limitPrice);
    }

    /// Cancels an open order of the caller before gate closure; its escrow is returned.
    function cancelOrder(uint64 orderId) external {
        uint256 o = _orders[orderId];
        if (o == 0) revert UnknownOrder(orderId);
        if (_traders[o >> 224] != msg.sender) revert NotOrderOwner(orderId);
        if (o & CANCELLED != 0) revert OrderAlreadyCancelled(orderId);
        uint64 interval = uint64(orderId >> SEQ_BITS);
        if (block.timestamp >= gateClosureOf(interval)) revert GateClosed(interval);
        _orders[orderId] = o | CANCELLED;
        _returnEscrow(msg.sender, o);
        emit OrderCancelled(orderId);
    }

    /**
     * Returns the escrow of open orders of a settled or expired interval (anyone may call; batches welcome).
     * Orders already closed (filled, released) or cancelled are skipped.
     */
    function releaseOrders(uint64[] calldata orderIds) external {
        for (uint256 i = 0; i < orderIds.length; ++i) {
            uint64 orderId = orderIds[i];
            uint256 o = _orders[orderId];
            if (o == 0 || o & CANCELLED != 0) continue;
            uint64 interval = uint64(orderId >> SEQ_BITS);
            if (_intervals[interval].status == IntervalStatus.Open) revert IntervalNotClosed(interval);
            delete _orders[orderId];
            _returnEscrow(_traders[o >> 224], o);
            emit OrderReleased(orderId);
        }
    }

    /**
     * An order: `status` 0 = none (never placed, or closed by its fill or release), 1 = open, 2 = cancelled.
     */
    function order(uint64 orderId)
        external
        view
        returns (address owner, uint64 interval, bool isSell, uint64 amountWh, uint128 limitPrice, uint8 status)
    {
        uint256 o = _orders[orderId];
        interval = uint64(orderId >> SEQ_BITS);
        if (o == 0) return (address(0), interval, false, 0, 0, 0);
        return (
            _traders[o >> 224],
            interval,
            o & SELL != 0,
            uint64(o >> 128),
            uint128(o),
            o & CANCELLED != 0 ? 2 : 1
        );
    }

    /// All order ids of an interval (placed, whatever their state), ascending.
    function orderIds(uint64 interval) external view returns (uint64[] memory ids) {
        uint256 n = _intervals[interval].orderCount;
        ids = new uint64[](n);
        for (uint256 i = 0; i < n; ++i) {
            ids[i] = uint64((uint256(interval) << SEQ_BITS) | i);
        }
    }

    function intervalState(uint64 interval)
        external
        view
        returns (uint32 orderCount, IntervalStatus status, uint128 price, uint64 volumeWh)
    {
        IntervalState memory s = _intervals[interval];
        return (s.orderCount, s.status, s.price, s.volumeWh);
    }

    // ---- settlement ----

    /**
     * Settles `interval` at the uniform `price` (MC wei per kWh) with the filled orders (ascending ids,
     * non-zero fills). Once per interval, after gate closure, SETTLER_ROLE. See the contract notice.
     */
    function settleInterval(uint64 interval, uint128 price, Fill[] calldata fills) external onlyRole(SETTLER_ROLE) {
        IntervalState memory st = _intervals[interval];
        if (st.status == IntervalStatus.Settled) revert IntervalAlreadySettled(interval);
        if (st.status == IntervalStatus.Expired) revert IntervalAlreadyExpired(interval);
        if (block.timestamp < gateClosureOf(interval)) revert GateNotClosed(interval);

        uint256 n = fills.length;
        Batch memory b;
        b.debits = new IEnergyLedger.LockedDebit[](n);
        b.credits = new IEnergyLedger.Credit[](n);
        uint256 prev;
        for (uint256 i = 0; i < n; ++i) {
            uint64 orderId = fills[i].orderId;
            if (i > 0 && orderId <= prev) revert FillsNotAscending();
            prev = orderId;
            _applyFill(b, interval, price, orderId, fills[i].amountWh);
        }
        _finishSettlement(interval, price, st.orderCount, b, n);
    }

    function _finishSettlement(uint64 interval, uint128 price, uint32 orderCount, Batch memory b, uint256 n) private {
        if (b.soldWh != b.boughtWh) revert EnergyNotConserved(b.soldWh, b.boughtWh);
        IEnergyLedger.LockedDebit[] memory debits = b.debits;
        IEnergyLedger.Credit[] memory credits = b.credits;
        uint256 nd = b.nd;
        uint256 nc = b.nc;
        assembly ("memory-safe") {
            mstore(debits, nd)
            mstore(credits, nc)
        }
        if (n != 0) ledger.settleLocked(debits, credits);
        uint256 toTreasury = b.fees + b.buyersPaid - b.sellersReceived;
        if (toTreasury != 0) _transferMC(_params.treasury, toTreasury);
        _intervals[interval] = IntervalState(orderCount, IntervalStatus.Settled, price, uint64(b.soldWh));
        emit IntervalSettled(interval, price, uint64(b.soldWh), n);
    }

    function _applyFill(Batch memory b, uint64 interval, uint128 price, uint64 orderId, uint64 fill) private {
        if (orderId >> SEQ_BITS != interval) revert OrderNotInInterval(orderId, interval);
        uint256 o = _orders[orderId];
        if (o == 0) revert UnknownOrder(orderId);
        if (o & CANCELLED != 0) revert OrderAlreadyCancelled(orderId);
        if (fill == 0) revert ZeroFill(orderId);
        uint64 amount = uint64(o >> 128);
        if (fill > amount) revert FillExceedsOrder(orderId, fill, amount);
        uint256 limit = uint128(o);
        address owner = _traders[o >> 224];
        delete _orders[orderId];
        if (o & SELL != 0) {
            if (limit > price) revert PriceBelowAsk(orderId);
            b.soldWh += fill;
            b.debits[b.nd++] = IEnergyLedger.LockedDebit(owner, uint256(fill) * WH, uint256(amount - fill) * WH);
            uint256 received = uint256(fill) * price / 1000;
            b.sellersReceived += received;
            if (received != 0) _transferMC(owner, received);
            emit Filled(orderId, fill, received);
        } else {
            if (limit < price) revert PriceAboveBid(orderId);
            b.boughtWh += fill;
            b.credits[b.nc++] = IEnergyLedger.Credit(owner, uint256(fill) * WH);
            uint256 feeBps = uint16(o >> 192);
            uint256 paid = _ceilDiv1000(uint256(fill) * price);
            uint256 fee = paid * feeBps / 10000;
            uint256 refund = _buyEscrow(amount, limit, feeBps) - paid - fee;
            b.buyersPaid += paid;
            b.fees += fee;
            if (refund != 0) _transferMC(owner, refund);
            emit Filled(orderId, fill, paid);
        }
    }

    /**
     * Marks an interval nobody settled within settlementDeadlineSeconds after gate closure as expired (anyone);
     * its orders' escrow is then returned by `releaseOrders`.
     */
    function expireInterval(uint64 interval) external {
        IntervalState storage st = _intervals[interval];
        if (st.status == IntervalStatus.Settled) revert IntervalAlreadySettled(interval);
        if (st.status == IntervalStatus.Expired) revert IntervalAlreadyExpired(interval);
        if (block.timestamp < gateClosureOf(interval) + _params.settlementDeadlineSeconds) {
            revert SettlementWindowOpen(interval);
        }
        st.status = IntervalStatus.Expired;
        emit IntervalExpired(interval);
    }

    // ---- helpers ----

    /// MC escrowed by a buy order: ceil(amountWh × limit / 1000) plus the fee on it at `feeBps`.
    function buyEscrow(uint64 amountWh, uint128 limitPrice, uint16 feeBps) external pure returns (uint256) {
        return _buyEscrow(amountWh, limitPrice, feeBps);
    }

    function _buyEscrow(uint256 amountWh, uint256 limitPrice, uint256 feeBps) private pure returns (uint256) {
        uint256 pay = _ceilDiv1000(amountWh * limitPrice);
        return pay + pay * feeBps / 10000;
    }

    function _ceilDiv1000(uint256 x) private pure returns (uint256) {
        return (x + 999) / 1000;
    }

    function _returnEscrow(address owner, uint256 o) private {
        uint256 amount = uint64(o >> 128);
        if (o & SELL != 0) {
            ledger.unlock(owner, amount * WH);
        } else {
            _transferMC(owner, _buyEscrow(amount, uint128(o), uint16(o >> 192)));
        }
    }

    function _transferMC(address to, uint256 amount) private {
        if (!meshCoin.transfer(to, amount)) revert TransferFailed();
    }
}
