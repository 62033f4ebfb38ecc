// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IEnergyLedger} from "./IEnergyLedger.sol";
import {IMeterRegistry} from "./IMeterRegistry.sol";

/**
 * @title MeterRegistry — meters and the k-of-n metering oracle (docs/settlement.md, "MeterRegistry").
 * @notice A batch of interval readings is accepted when k distinct oracle keys signed the EIP-712 digest of
 * `ReadingBatch(bytes32 readingsHash,uint256 chainId)`, `readingsHash = keccak256(abi.encode(readings))`,
 * signatures in ascending signer order. Each meter's intervals arrive in order without gaps.
 * Storage: one slot per meter (owner | lastInterval), one per reading (flags | export | import, bit 255 set).
 */
contract MeterRegistry is IMeterRegistry, AccessControl, EIP712 {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    bytes32 public constant ORACLE_ADMIN_ROLE = keccak256("ORACLE_ADMIN_ROLE");
    bytes32 public constant READING_BATCH_TYPEHASH = keccak256("ReadingBatch(bytes32 readingsHash,uint256 chainId)");
    uint64 public constant NONE = type(uint64).max;
    uint256 public constant MAX_ORACLES = 32;
    uint256 private constant EXISTS = 1 << 255;

    struct Reading {
        bytes32 meterId;
        uint64 interval;
        uint64 exportWh;
        uint64 importWh;
        uint16 flags;
    }

    struct Meter {
        address owner;
        uint64 lastInterval;
    }

    IEnergyLedger public immutable ledger;
    uint64 public immutable intervalSeconds;

    mapping(bytes32 => Meter) private _meters;
    mapping(bytes32 => bytes32) private _areas;
    mapping(bytes32 => mapping(uint64 => uint256)) private _readings;
    address[] private _oracles;
    mapping(address => uint256) private _oracleEpoch;
    uint248 private _epoch;
    uint8 private _threshold;

    error NotEnoughSignatures(uint256 valid, uint256 k);
    error UnknownOracle(address signer);
    error SignersNotAscending();
    error UnknownMeter(bytes32 meterId);
    error MeterAlreadyRegistered(bytes32 meterId);
    error ReadingReplayed(bytes32 meterId, uint64 interval);
    error IntervalOutOfOrder(bytes32 meterId, uint64 interval, uint64 last);
    error IntervalGap(bytes32 meterId, uint64 expected, uint64 got);
    error IntervalNotEnded(bytes32 meterId, uint64 interval);
    error MissingReading(bytes32 meterId, uint64 interval);
    error InvalidOracleSet();
    error InvalidInterval();
    error EmptyBatch();
    error LengthMismatch();
    error ZeroAddress();

    event MeterRegistered(bytes32 indexed meterId, address indexed owner, bytes32 indexed area);
    event OraclesChanged(address[] oracles, uint8 threshold);
    event ReadingAccepted(bytes32 indexed meterId, uint64 indexed interval, uint64 exportWh, uint64 importWh, uint16 flags);

    /**
     * @param admin DEFAULT_ADMIN_ROLE and ORACLE_ADMIN_ROLE (the Multisig).
     * @param intervalSeconds_ settlement interval length (300, 900 or 1800).
     */
    constructor(
        address admin,
        address registrar,
        IEnergyLedger ledger_,
        uint64 intervalSeconds_,
        address[] memory oracles_,
        uint8 threshold_
    ) EIP712("EnergyMesh MeterRegistry", "1") {
        if (admin == address(0) || address(ledger_) == address(0)) revert ZeroAddress();
        if (intervalSeconds_ != 300 && intervalSeconds_ != 900 && intervalSeconds_ != 1800) revert InvalidInterval();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ORACLE_ADMIN_ROLE, admin);
        if (registrar != address(0)) _grantRole(REGISTRAR_ROLE, registrar);
        ledger = ledger_;
        intervalSeconds = intervalSeconds_;
        _setOracles(oracles_, threshold_);
    }

    // ---- meters ----

    function registerMeter(bytes32 meterId, address owner, bytes32 area) external onlyRole(REGISTRAR_ROLE) {
        if (owner == address(0)) revert ZeroAddress();
        if (_meters[meterId].owner != address(0)) revert MeterAlreadyRegistered(meterId);
        _meters[meterId] = Meter(owner, NONE);
        _areas[meterId] = area;
        emit MeterRegistered(meterId, owner, area);
    }

    /// Registers many meters of one area (e.g. a whole feeder's households) in one transaction.
    function registerMeters(bytes32[] calldata meterIds, address[] calldata owners, bytes32 area)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (meterIds.length != owners.length) revert LengthMismatch();
        for (uint256 i = 0; i < meterIds.length; ++i) {
            bytes32 meterId = meterIds[i];
            address owner = owners[i];
            if (owner == address(0)) revert ZeroAddress();
            if (_meters[meterId].owner != address(0)) revert MeterAlreadyRegistered(meterId);
            _meters[meterId] = Meter(owner, NONE);
            _areas[meterId] = area;
            emit MeterRegistered(meterId, owner, area);
        }
    }

    function meterOwner(bytes32 meterId) external view returns (address) {
        return _meters[meterId].owner;
    }

    function meterArea(bytes32 meterId) external view returns (bytes32) {
        return _areas[meterId];
    }

    /// The last accepted interval of a meter, `type(uint64).max` when none yet.
    function lastInterval(bytes32 meterId) external view returns (uint64) {
        Meter memory m = _meters[meterId];
        if (m.owner == address(0)) revert UnknownMeter(meterId);
        return m.lastInterval;
    }

    // ---- oracle set ----

    function oracles() external view returns (address[] memory) {
        return _oracles;
    }

    function threshold() external view returns (uint8) {
        return _threshold;
    }

    function isOracle(address account) public view returns (bool) {
        return _oracleEpoch[account] == _epoch;
    }

    function setOracles(address[] calldata set, uint8 k) external onlyRole(ORACLE_ADMIN_ROLE) {
        _setOracles(set, k);
    }

    function _setOracles(address[] memory set, uint8 k) private {
        if (k == 0 || set.length < k || set.length > MAX_ORACLES) revert InvalidOracleSet();
        uint248 epoch = _epoch + 1;
        _epoch = epoch;
        for (uint256 i = 0; i < set.length; ++i) {
            address o = set[i];
            if (o == address(0) || _oracleEpoch[o] == epoch) revert InvalidOracleSet();
            _oracleEpoch[o] = epoch;
        }
        _oracles = set;
        _threshold = k;
        emit OraclesChanged(set, k);
    }

    // ---- readings ----

    /// The EIP-712 domain separator (name "EnergyMesh MeterRegistry", version "1").
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// `keccak256(abi.encode(readings))`, hashed straight from calldata (a Reading is a static 5-word tuple).
    function readingsHash(Reading[] calldata readings) public pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let len := mul(readings.length, 0xa0)
            mstore(ptr, 0x20)
            mstore(add(ptr, 0x20), readings.length)
            calldatacopy(add(ptr, 0x40), readings.offset, len)
            h := keccak256(ptr, add(len, 0x40))
        }
    }

    /// The digest the oracles sign for a batch.
    function batchDigest(bytes32 readingsHash_) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(READING_BATCH_TYPEHASH, readingsHash_, block.chainid)));
    }

    /**
     * Accepts a batch of readings attested by k oracle keys (anyone may relay). Atomic: any refusal reverts
     * the whole batch. Each reading mints its export and burns its import in the ledger (one ledger call).
     */
    function submitReadings(Reading[] calldata readings, bytes[] calldata signatures) external {
        uint256 n = readings.length;
        if (n == 0) revert EmptyBatch();
        _verify(batchDigest(readingsHash(readings)), signatures);
        IEnergyLedger.ReadingEffect[] memory effects = new IEnergyLedger.ReadingEffect[](n);
        uint256 iSec = intervalSeconds;
        for (uint256 i = 0; i < n; ++i) {
            Reading calldata r = readings[i];
            bytes32 id = r.meterId;
            uint64 interval = r.interval;
            Meter memory m = _meters[id];
            if (m.owner == address(0)) revert UnknownMeter(id);
            if ((uint256(interval) + 1) * iSec > block.timestamp) revert IntervalNotEnded(id, interval);
            uint64 last = m.lastInterval;
            if (last != NONE) {
                if (interval == last) revert ReadingReplayed(id, interval);
                if (interval < last) revert IntervalOutOfOrder(id, interval, last);
                if (interval != last + 1) revert IntervalGap(id, last + 1, interval);
            }
            _meters[id] = Meter(m.owner, interval);
            uint64 exportWh = r.exportWh;
            uint64 importWh = r.importWh;
            uint16 flags = r.flags;
            _readings[id][interval] =
                EXISTS | (uint256(flags) << 128) | (uint256(exportWh) << 64) | uint256(importWh);
            effects[i] = IEnergyLedger.ReadingEffect(m.owner, exportWh, importWh, keccak256(abi.encodePacked(id, interval)));
            emit ReadingAccepted(id, interval, exportWh, importWh, flags);
        }
        ledger.applyReadings(effects);
    }

    function _verify(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 k = _threshold;
        if (signatures.length < k) revert NotEnoughSignatures(signatures.length, k);
        uint256 epoch = _epoch;
        address prev = address(0);
        for (uint256 i = 0; i < signatures.length; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= prev) revert SignersNotAscending();
            if (_oracleEpoch[signer] != epoch) revert UnknownOracle(signer);
            prev = signer;
        }
    }

    function readingOf(bytes32 meterId, uint64 interval)
        public
        view
        returns (bool exists, uint64 exportWh, uint64 importWh, uint16 flags)
    {
        uint256 v = _readings[meterId][interval];
        return (v & EXISTS != 0, uint64(v >> 64), uint64(v), uint16(v >> 128));
    }

    /**
     * The baseline of `interval`: the average (floor) of the meter's readings at the same interval on each of
     * the previous `days_` days; days without a reading are skipped; none → 0. `found` = days averaged.
     */
    function baselineOf(bytes32 meterId, uint64 interval, uint16 days_)
        public
        view
        returns (uint64 baseExportWh, uint64 baseImportWh, uint16 found)
    {
        uint256 perDay = 86400 / intervalSeconds;
        uint256 sumExport;
        uint256 sumImport;
        mapping(uint64 => uint256) storage readings = _readings[meterId];
        for (uint256 d = 1; d <= days_; ++d) {
            if (d * perDay > interval) break;
            uint256 v = readings[uint64(interval - d * perDay)];
            if (v & EXISTS == 0) continue;
            sumExport += uint64(v >> 64);
            sumImport += uint64(v);
            ++found;
        }
        if (found > 0) {
            baseExportWh = uint64(sumExport / found);
            baseImportWh = uint64(sumImport / found);
        }
    }

    /// The readings of `[startInterval, endInterval)` with each interval's baseline (MissingReading if absent).
    function windowWithBaseline(bytes32 meterId, uint64 startInterval, uint64 endInterval, uint16 baselineDays)
        external
        view
        returns (uint64[] memory exportWh, uint64[] memory importWh, uint64[] memory baseExportWh, uint64[] memory baseImportWh)
    {
        uint256 n = endInterval > startInterval ? endInterval - startInterval : 0;
        exportWh = new uint64[](n);
        importWh = new uint64[](n);
        baseExportWh = new uint64[](n);
        baseImportWh = new uint64[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint64 interval = startInterval + uint64(i);
            uint256 v = _readings[meterId][interval];
            if (v & EXISTS == 0) revert MissingReading(meterId, interval);
            exportWh[i] = uint64(v >> 64);
            importWh[i] = uint64(v);
            (baseExportWh[i], baseImportWh[i],) = baselineOf(meterId, interval, baselineDays);
        }
    }
}
