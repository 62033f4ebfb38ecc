// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IEnergyLedger} from "./IEnergyLedger.sol";
import {IMeterRegistry} from "./IMeterRegistry.sol";

/**
 * @title BalancingIncentives — grid-operator flexibility events (docs/settlement.md, "BalancingIncentives").
 * @notice An operator publishes an event (window of intervals, area, direction, target, EB reward per kWh)
 * funded by `msg.value`; meters of the area enrol before the deadline; after the window each enrolled meter's
 * delivery is measured from its attested readings against its baseline (the average of the same interval on
 * the previous `baselineDays` days) and rewarded into its owner's ledger balance, capped by the pool.
 */
contract BalancingIncentives is AccessControl {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    bytes32 public constant PARAMETER_ROLE = keccak256("PARAMETER_ROLE");
    uint8 public constant UP = 0;
    uint8 public constant DOWN = 1;
    uint64 public constant MAX_WINDOW_INTERVALS = 288;
    uint256 public constant RECLAIM_DELAY = 1 days;

    struct IncentiveEvent {
        bytes32 area;
        uint64 startInterval;
        uint64 endInterval;
        uint64 enrolmentDeadline;
        uint64 targetKw;
        address operator;
        uint8 direction;
        uint16 baselineDays;
        uint128 rewardPerKwh;
        uint128 pool;
    }

    IMeterRegistry public immutable registry;
    IEnergyLedger public immutable ledger;
    uint64 public immutable intervalSeconds;

    uint16 public baselineDays;
    uint64 public eventCount;
    mapping(uint64 => IncentiveEvent) private _events;
    /// 0 = not enrolled, 1 = enrolled, 2 = settled.
    mapping(uint64 => mapping(bytes32 => uint8)) public enrolment;

    error InvalidEvent(string reason);
    error UnknownEvent(uint64 eventId);
    error UnknownMeter(bytes32 meterId);
    error EnrolmentClosed(uint64 eventId);
    error NotMeterOwner(bytes32 meterId);
    error WrongArea(bytes32 meterId, bytes32 area);
    error AlreadyEnrolled(uint64 eventId, bytes32 meterId);
    error NotEnrolled(uint64 eventId, bytes32 meterId);
    error AlreadySettled(uint64 eventId, bytes32 meterId);
    error WindowNotEnded(uint64 eventId);
    error NotEventOperator(uint64 eventId);
    error ReclaimTooEarly(uint64 eventId, uint256 availableAt);
    error NothingToReclaim(uint64 eventId);
    error InvalidParameter(string name);
    error TransferFailed();

    event EventCreated(
        uint64 indexed eventId,
        bytes32 indexed area,
        address indexed operator,
        uint64 startInterval,
        uint64 endInterval,
        uint8 direction,
        uint64 targetKw,
        uint256 rewardPerKwh,
        uint64 enrolmentDeadline,
        uint256 pool
    );
    event Enrolled(uint64 indexed eventId, bytes32 indexed meterId, address indexed owner);
    event DeliverySettled(uint64 indexed eventId, bytes32 indexed meterId, uint256 deliveredWh, uint256 rewardWei);
    event Reclaimed(uint64 indexed eventId, address indexed operator, uint256 amount);
    event BaselineDaysChanged(uint16 baselineDays);

    constructor(
        address admin,
        address operator,
        address parameters,
        IMeterRegistry registry_,
        IEnergyLedger ledger_,
        uint64 intervalSeconds_,
        uint16 baselineDays_
    ) {
        if (admin == address(0)) revert InvalidParameter("admin");
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (operator != address(0)) _grantRole(OPERATOR_ROLE, operator);
        if (parameters != address(0)) _grantRole(PARAMETER_ROLE, parameters);
        registry = registry_;
        ledger = ledger_;
        if (intervalSeconds_ == 0) revert InvalidParameter("intervalSeconds");
        intervalSeconds = intervalSeconds_;
        _setBaselineDays(baselineDays_);
    }

    function setBaselineDays(uint16 days_) external onlyRole(PARAMETER_ROLE) {
        _setBaselineDays(days_);
    }

    function _setBaselineDays(uint16 days_) private {
        if (days_ == 0 || days_ > 60) revert InvalidParameter("baselineDays");
        baselineDays = days_;
        emit BaselineDaysChanged(days_);
    }

    function eventOf(uint64 eventId) external view returns (IncentiveEvent memory) {
        IncentiveEvent memory e = _events[eventId];
        if (e.operator == address(0)) revert UnknownEvent(eventId);
        return e;
    }

    /**
     * Publishes an event over `[startInterval, endInterval)`; `msg.value` is the reward pool. Enrolment is
     * open until `enrolmentDeadline` (unix s, in the future, at or before the window start); the window is at
     * most 288 intervals. The current `baselineDays` is fixed for the event.
     */
    function createEvent(
        bytes32 area,
        uint64 startInterval,
        uint64 endInterval,
        uint8 direction,
        uint64 targetKw,
        uint256 rewardPerKwh,
        uint64 enrolmentDeadline
    ) external payable onlyRole(OPERATOR_ROLE) returns (uint64 eventId) {
        if (endInterval <= startInterval || endInterval - startInterval > MAX_WINDOW_INTERVALS) {
            revert InvalidEvent("window");
        }
        if (direction > DOWN) revert InvalidEvent("direction");
        if (enrolmentDeadline <= block.timestamp || enrolmentDeadline > uint256(startInterval) * intervalSeconds) {
            revert InvalidEvent("enrolment deadline");
        }
        if (rewardPerKwh == 0 || rewardPerKwh > type(uint128).max) revert InvalidEvent("reward");
        if (msg.value == 0 || msg.value > type(uint128).max) revert InvalidEvent("pool");
        eventId = ++eventCount;
        _events[eventId] = IncentiveEvent({
            area: area,
            startInterval: startInterval,
            endInterval: endInterval,
            enrolmentDeadline: enrolmentDeadline,
            targetKw: targetKw,
            operator: msg.sender,
            direction: direction,
            baselineDays: baselineDays,
            rewardPerKwh: uint128(rewardPerKwh),
            pool: uint128(msg.value)
        });
        emit EventCreated(
            eventId, area, msg.sender, startInterval, endInterval, direction, targetKw, rewardPerKwh, enrolmentDeadline, msg.value
        );
    }

    /// Enrols a meter of the event's area (its owner or an operator), until the enrolment deadline.
    function enrol(uint64 eventId, bytes32 meterId) external {
        IncentiveEvent storage e = _events[eventId];
        if (e.operator == address(0)) revert UnknownEvent(eventId);
        if (block.timestamp > e.enrolmentDeadline) revert EnrolmentClosed(eventId);
        address owner = registry.meterOwner(meterId);
        if (owner == address(0)) revert UnknownMeter(meterId);
        if (msg.sender != owner && !hasRole(OPERATOR_ROLE, msg.sender)) revert NotMeterOwner(meterId);
        bytes32 area = registry.meterArea(meterId);
        if (area != e.area) revert WrongArea(meterId, area);
        if (enrolment[eventId][meterId] != 0) revert AlreadyEnrolled(eventId, meterId);
        enrolment[eventId][meterId] = 1;
        emit Enrolled(eventId, meterId, owner);
    }

    function settleMeter(uint64 eventId, bytes32 meterId) external returns (uint256 deliveredWh, uint256 rewardWei) {
        IncentiveEvent storage e = _events[eventId];
        _checkSettleable(eventId, e);
        return _settle(eventId, e, meterId);
    }

    function settle(uint64 eventId, bytes32[] calldata meterIds) external {
        IncentiveEvent storage e = _events[eventId];
        _checkSettleable(eventId, e);
        for (uint256 i = 0; i < meterIds.length; ++i) {
            _settle(eventId, e, meterIds[i]);
        }
    }

    /// Delivered Wh of a meter over the window against its baseline (the rule of `settleMeter`, as a view).
    function deliveryOf(uint64 eventId, bytes32 meterId) public view returns (uint256 deliveredWh) {
        IncentiveEvent storage e = _events[eventId];
        if (e.operator == address(0)) revert UnknownEvent(eventId);
        (uint64[] memory ex, uint64[] memory im, uint64[] memory bex, uint64[] memory bim) =
            registry.windowWithBaseline(meterId, e.startInterval, e.endInterval, e.baselineDays);
        bool up = e.direction == UP;
        for (uint256 i = 0; i < ex.length; ++i) {
            int256 d = (int256(uint256(ex[i])) - int256(uint256(bex[i]))) + (int256(uint256(bim[i])) - int256(uint256(im[i])));
            if (!up) d = -d;
            if (d > 0) deliveredWh += uint256(d);
        }
    }

    function _checkSettleable(uint64 eventId, IncentiveEvent storage e) private view {
        if (e.operator == address(0)) revert UnknownEvent(eventId);
        if (block.timestamp < uint256(e.endInterval) * intervalSeconds) revert WindowNotEnded(eventId);
    }

    function _settle(uint64 eventId, IncentiveEvent storage e, bytes32 meterId)
        private
        returns (uint256 deliveredWh, uint256 rewardWei)
    {
        uint8 s = enrolment[eventId][meterId];
        if (s == 0) revert NotEnrolled(eventId, meterId);
        if (s == 2) revert AlreadySettled(eventId, meterId);
        enrolment[eventId][meterId] = 2;
        deliveredWh = deliveryOf(eventId, meterId);
        rewardWei = deliveredWh * e.rewardPerKwh / 1000;
        uint256 pool = e.pool;
        if (rewardWei > pool) rewardWei = pool;
        if (rewardWei != 0) {
            e.pool = uint128(pool - rewardWei);
            ledger.depositFor{value: rewardWei}(registry.meterOwner(meterId));
        }
        emit DeliverySettled(eventId, meterId, deliveredWh, rewardWei);
    }

    /// The event's operator takes back what is left of the pool, from one day after the window.
    function reclaim(uint64 eventId) external returns (uint256 amount) {
        IncentiveEvent storage e = _events[eventId];
        if (e.operator == address(0)) revert UnknownEvent(eventId);
        if (msg.sender != e.operator) revert NotEventOperator(eventId);
        uint256 at = uint256(e.endInterval) * intervalSeconds + RECLAIM_DELAY;
        if (block.timestamp < at) revert ReclaimTooEarly(eventId, at);
        amount = e.pool;
        if (amount == 0) revert NothingToReclaim(eventId);
        e.pool = 0;
        emit Reclaimed(eventId, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
