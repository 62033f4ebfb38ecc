// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IEnergyLedger} from "./IEnergyLedger.sol";

/**
 * @title EnergyLedger — EB accounting (docs/settlement.md, "EnergyLedger").
 * @notice EB is the chain's native coin (1 EB = 1 kWh, 1 Wh = 1e15 wei). The ledger holds EB for accounts so
 * attested consumption can be burned and sold energy escrowed without asking the owner each time.
 * Mint = move from the reserve to an account's balance; burn = move from an account's balance to 0x…dEaD.
 * Consumption the balance does not cover becomes a deficit owed to the utility — never a negative balance.
 * Invariant: address(this).balance == reserve + Σ balances + Σ locked.
 * Storage: one slot per account (balance uint96 | locked uint80 | deficit uint80); the totals share two slots.
 */
contract EnergyLedger is IEnergyLedger, AccessControl, Pausable {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant MARKET_ROLE = keccak256("MARKET_ROLE");
    bytes32 public constant UTILITY_ROLE = keccak256("UTILITY_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;
    uint256 public constant WH = 1e15;

    struct Account {
        uint96 balance;
        uint80 locked;
        uint80 deficit;
    }

    mapping(address => Account) private _accounts;
    uint128 private _reserve;
    uint128 private _totalDeficit;
    uint128 private _totalMinted;
    uint128 private _totalBurned;

    error ReserveExhausted(uint256 requested, uint256 available);
    error InsufficientEB(address account, uint256 requested, uint256 available);
    error InsufficientLocked(address account, uint256 requested, uint256 available);
    error InsufficientDeficit(address account, uint256 requested, uint256 owed);
    error BatchNotBalanced(uint256 debited, uint256 credited);
    error ZeroAddress();
    error ZeroAmount();
    error TransferFailed(address to, uint256 amount);

    event ReserveFunded(address indexed from, uint256 amount);
    event Minted(address indexed to, uint256 amount, bytes32 indexed ref);
    event Burned(address indexed from, uint256 burnedWei, uint256 deficitWei, bytes32 indexed ref);
    event Deposited(address indexed account, address indexed from, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event Locked(address indexed account, uint256 amount);
    event Unlocked(address indexed account, uint256 amount);
    event LockedTransferred(address indexed from, address indexed to, uint256 amount);
    event DeficitSettled(address indexed account, uint256 amount);

    /// @param admin DEFAULT_ADMIN_ROLE and PAUSER_ROLE (the Multisig). `msg.value` funds the reserve.
    constructor(address admin, address minter, address market, address utility) payable {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        if (minter != address(0)) _grantRole(MINTER_ROLE, minter);
        if (market != address(0)) _grantRole(MARKET_ROLE, market);
        if (utility != address(0)) _grantRole(UTILITY_ROLE, utility);
        if (msg.value > 0) {
            _reserve = SafeCast.toUint128(msg.value);
            emit ReserveFunded(msg.sender, msg.value);
        }
    }

    // ---- views ----

    function balanceOf(address account) external view returns (uint256) {
        return _accounts[account].balance;
    }

    function lockedOf(address account) external view returns (uint256) {
        return _accounts[account].locked;
    }

    function deficitOf(address account) external view returns (uint256) {
        return _accounts[account].deficit;
    }

    function reserve() external view returns (uint256) {
        return _reserve;
    }

    function totalMinted() external view returns (uint256) {
        return _totalMinted;
    }

    function totalBurned() external view returns (uint256) {
        return _totalBurned;
    }

    function totalDeficit() external view returns (uint256) {
        return _totalDeficit;
    }

    // ---- reserve and accounts ----

    /// The mint reserve; anyone may fund it (on EMPoS the producers' genesis allocation).
    function fundReserve() external payable {
        if (msg.value == 0) revert ZeroAmount();
        _reserve = SafeCast.toUint128(uint256(_reserve) + msg.value);
        emit ReserveFunded(msg.sender, msg.value);
    }

    function deposit() external payable {
        _deposit(msg.sender);
    }

    function depositFor(address account) external payable {
        _deposit(account);
    }

    function _deposit(address account) private whenNotPaused {
        if (account == address(0)) revert ZeroAddress();
        if (msg.value == 0) revert ZeroAmount();
        Account memory a = _accounts[account];
        a.balance = SafeCast.toUint96(uint256(a.balance) + msg.value);
        _accounts[account] = a;
        emit Deposited(account, msg.sender, msg.value);
    }

    function withdraw(uint256 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        Account memory a = _accounts[msg.sender];
        if (amount > a.balance) revert InsufficientEB(msg.sender, amount, a.balance);
        a.balance -= uint96(amount);
        _accounts[msg.sender] = a;
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    // ---- mint and burn (the MeterRegistry) ----

    function mint(address to, uint256 amount, bytes32 ref) external onlyRole(MINTER_ROLE) whenNotPaused {
        if (to == address(0)) revert ZeroAddress();
        uint256 available = _reserve;
        if (amount > available) revert ReserveExhausted(amount, available);
        _reserve = uint128(available - amount);
        _totalMinted = SafeCast.toUint128(uint256(_totalMinted) + amount);
        Account memory a = _accounts[to];
        a.balance = SafeCast.toUint96(uint256(a.balance) + amount);
        _accounts[to] = a;
        emit Minted(to, amount, ref);
    }

    /// Burns what `from`'s free balance covers; the rest becomes its deficit (never a negative balance).
    function burn(address from, uint256 amount, bytes32 ref)
        external
        onlyRole(MINTER_ROLE)
        whenNotPaused
        returns (uint256 burned, uint256 deficit)
    {
        Account memory a = _accounts[from];
        burned = amount <= a.balance ? amount : a.balance;
        deficit = amount - burned;
        a.balance -= uint96(burned);
        a.deficit = SafeCast.toUint80(uint256(a.deficit) + deficit);
        _accounts[from] = a;
        _totalBurned = SafeCast.toUint128(uint256(_totalBurned) + burned);
        _totalDeficit = SafeCast.toUint128(uint256(_totalDeficit) + deficit);
        emit Burned(from, burned, deficit, ref);
        if (burned > 0) _send(BURN_ADDRESS, burned);
    }

    /**
     * The MeterRegistry's batch: for each reading, mint `exportWh` then burn `importWh` (same rules as
     * mint/burn); the totals are written and the burned EB sent to 0x…dEaD once per batch.
     */
    function applyReadings(ReadingEffect[] calldata effects) external onlyRole(MINTER_ROLE) whenNotPaused {
        uint256 reserve_ = _reserve;
        uint256 minted;
        uint256 burnedTotal;
        uint256 deficitTotal;
        uint256 n = effects.length;
        for (uint256 i = 0; i < n; ++i) {
            ReadingEffect calldata e = effects[i];
            Account memory a = _accounts[e.owner];
            uint256 balance = a.balance;
            if (e.exportWh != 0) {
                uint256 m = uint256(e.exportWh) * WH;
                if (m > reserve_) revert ReserveExhausted(m, reserve_);
                unchecked {
                    reserve_ -= m;
                }
                balance += m;
                minted += m;
                emit Minted(e.owner, m, e.ref);
            }
            if (e.importWh != 0) {
                uint256 need = uint256(e.importWh) * WH;
                uint256 b = need <= balance ? need : balance;
                uint256 d;
                unchecked {
                    balance -= b;
                    d = need - b;
                }
                burnedTotal += b;
                if (d != 0) {
                    a.deficit = SafeCast.toUint80(uint256(a.deficit) + d);
                    deficitTotal += d;
                }
                emit Burned(e.owner, b, d, e.ref);
            }
            a.balance = SafeCast.toUint96(balance);
            _accounts[e.owner] = a;
        }
        _reserve = uint128(reserve_);
        if (minted != 0) _totalMinted = SafeCast.toUint128(uint256(_totalMinted) + minted);
        if (burnedTotal != 0) {
            _totalBurned = SafeCast.toUint128(uint256(_totalBurned) + burnedTotal);
            _send(BURN_ADDRESS, burnedTotal);
        }
        if (deficitTotal != 0) _totalDeficit = SafeCast.toUint128(uint256(_totalDeficit) + deficitTotal);
    }

    /// The utility records an off-chain payment of `amount` wei of `account`'s deficit.
    function settleDeficit(address account, uint256 amount) external onlyRole(UTILITY_ROLE) {
        if (amount == 0) revert ZeroAmount();
        Account memory a = _accounts[account];
        if (amount > a.deficit) revert InsufficientDeficit(account, amount, a.deficit);
        a.deficit -= uint80(amount);
        _accounts[account] = a;
        _totalDeficit -= uint128(amount);
        emit DeficitSettled(account, amount);
    }

    // ---- escrow (the EnergyMarket) ----

    function lock(address from, uint256 amount) external onlyRole(MARKET_ROLE) whenNotPaused {
        Account memory a = _accounts[from];
        if (amount > a.balance) revert InsufficientEB(from, amount, a.balance);
        a.balance -= uint96(amount);
        a.locked = SafeCast.toUint80(uint256(a.locked) + amount);
        _accounts[from] = a;
        emit Locked(from, amount);
    }

    function unlock(address from, uint256 amount) external onlyRole(MARKET_ROLE) whenNotPaused {
        Account memory a = _accounts[from];
        if (amount > a.locked) revert InsufficientLocked(from, amount, a.locked);
        a.locked -= uint80(amount);
        a.balance += uint96(amount);
        _accounts[from] = a;
        emit Unlocked(from, amount);
    }

    function transferLocked(address from, address to, uint256 amount) external onlyRole(MARKET_ROLE) whenNotPaused {
        if (to == address(0)) revert ZeroAddress();
        Account memory a = _accounts[from];
        if (amount > a.locked) revert InsufficientLocked(from, amount, a.locked);
        a.locked -= uint80(amount);
        _accounts[from] = a;
        Account memory b = _accounts[to];
        b.balance = SafeCast.toUint96(uint256(b.balance) + amount);
        _accounts[to] = b;
        emit LockedTransferred(from, to, amount);
    }

    /**
     * A settled interval in one call: each debit moves `transferWei` out of the seller's lock and returns
     * `unlockWei` to its balance; each credit adds to a buyer's balance; Σ transferWei must equal Σ credits.
     */
    function settleLocked(LockedDebit[] calldata debits, Credit[] calldata credits)
        external
        onlyRole(MARKET_ROLE)
        whenNotPaused
    {
        uint256 debited;
        uint256 credited;
        for (uint256 i = 0; i < debits.length; ++i) {
            LockedDebit calldata d = debits[i];
            Account memory a = _accounts[d.from];
            uint256 take = d.transferWei + d.unlockWei;
            if (take > a.locked) revert InsufficientLocked(d.from, take, a.locked);
            a.locked -= uint80(take);
            a.balance = SafeCast.toUint96(uint256(a.balance) + d.unlockWei);
            _accounts[d.from] = a;
            debited += d.transferWei;
        }
        for (uint256 i = 0; i < credits.length; ++i) {
            Credit calldata c = credits[i];
            Account memory b = _accounts[c.to];
            b.balance = SafeCast.toUint96(uint256(b.balance) + c.amount);
            _accounts[c.to] = b;
            credited += c.amount;
        }
        if (debited != credited) revert BatchNotBalanced(debited, credited);
    }

    // ---- emergency ----

    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
