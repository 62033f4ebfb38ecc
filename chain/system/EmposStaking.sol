// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/**
 * @title EMPoS staking — the system contract of an EnergyMesh chain.
 * @notice Lives in the genesis state at 0x000000000000000000000000000000000000E05A; every validator executes
 * it, so staking, slashing, fee sharing and governance are part of the state root.
 *
 * Calls from the chain itself come from SYSTEM (0xff…fe, as in EIP-4788: nobody holds its key), with no
 * signature and no gas charged:
 *  - `initialize` once at genesis (the genesis validators' stakes; the chain credits this contract's balance
 *    with their sum first);
 *  - `onBlockStart(list, kind)` before the transactions of every block: the validators absent from the
 *    previous block's finality certificate (LIST_ABSENT, when the chain knows the set that voted), or its
 *    signers (LIST_SIGNERS: then every validator active here, since before the previous block, and not a
 *    signer is absent); each absent active validator is slashed
 *    offlineSlashBpsPerDay × (chargeable seconds) / 86,400 of its stake, where the chargeable seconds are
 *    the seconds since the previous block capped at offlineChargeCap() (4 block slots; see onBlockStart):
 *    offline time is charged per block made without the validator, not for a stall of the whole network;
 *  - `distributeFees(amount)` after the transactions: every fee of the block (base fee and priority fee,
 *    which the chain credits to this contract's balance instead of burning / paying the proposer), shared
 *    by the active validators pro rata to stake with an exact accumulator (no wei lost: remainders carry).
 *
 * Slashed EB is burned: it stays locked in this contract for ever (counted in `burned`) and no function
 * can move it. Equivocation evidence: two signatures of one validator over the vote digests
 * keccak256("EMPoS/vote/v1" ‖ chainId ‖ number ‖ round ‖ blockHash) of two different blocks at the same
 * (number, round); anyone may submit it once; 5 % (equivocationSlashBps) of stake and unbonding stake is
 * burned and the validator removed for good.
 * Governance: active validators propose and vote, weighted by stake at vote time; a proposal executes at
 * the vote that brings "yes" above 2/3 of the active stake, and is rejected once "no" reaches 1/3 (it can
 * then never pass); it expires after votingPeriodSeconds.
 */
contract EmposStaking {
    address public constant SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
    uint256 private constant ACC = 1e36;
    uint256 private constant BPS = 10_000;
    uint256 private constant DAY = 86_400;
    /// Block slots of offline time one block can charge (offlineChargeCap); see onBlockStart.
    uint256 public constant OFFLINE_CHARGE_SLOTS = 4;
    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_ACTIVE = 1;
    uint8 public constant STATUS_INACTIVE = 2;
    uint8 public constant STATUS_REMOVED = 3;

    uint8 public constant REASON_OFFLINE = 0;
    uint8 public constant REASON_EQUIVOCATION = 1;
    uint8 public constant REASON_GOVERNANCE = 2;

    uint8 public constant PARAM_BLOCK_TIME_MS = 0;
    uint8 public constant PARAM_MIN_BASE_FEE = 1;
    uint8 public constant PARAM_MIN_STAKE = 2;
    uint8 public constant PARAM_MAX_VALIDATORS = 3;
    uint8 public constant PARAM_OFFLINE_SLASH_BPS_PER_DAY = 4;
    uint8 public constant PARAM_EQUIVOCATION_SLASH_BPS = 5;
    uint8 public constant PARAM_UNBONDING_SECONDS = 6;
    uint8 public constant PARAM_VOTING_PERIOD_SECONDS = 7;

    uint8 public constant KIND_PARAM = 0;
    uint8 public constant KIND_SLASH = 1;

    uint8 public constant STATE_OPEN = 0;
    uint8 public constant STATE_EXECUTED = 1;
    uint8 public constant STATE_REJECTED = 2;
    uint8 public constant STATE_EXPIRED = 3;

    struct Params {
        uint256 blockTimeMs;
        uint256 minBaseFee;
        uint256 minStake;
        uint256 maxValidators;
        uint256 offlineSlashBpsPerDay;
        uint256 equivocationSlashBps;
        uint256 unbondingSeconds;
        uint256 votingPeriodSeconds;
    }

    struct Validator {
        uint256 stake;
        uint256 accSnapshot;
        uint256 owedScaled;
        uint256 slashed;
        uint64 offlineSeconds;
        uint32 activeIndex;
        uint64 activeSinceBlock;
        uint8 status;
    }

    struct ValidatorView {
        address validator;
        uint256 stake;
        uint8 status;
        uint256 unbonding;
        uint256 pendingFees;
        uint256 slashed;
        uint64 offlineSeconds;
    }

    struct Unbonding {
        uint256 amount;
        uint64 releaseAt;
    }

    struct SlashRecord {
        address validator;
        uint8 reason;
        uint256 amount;
        uint64 fromBlock;
        uint64 toBlock;
        uint64 timestamp;
    }

    struct Proposal {
        uint256 id;
        address proposer;
        uint8 kind;
        uint8 param;
        uint256 value;
        address target;
        uint64 createdAt;
        uint64 deadline;
        uint256 yes;
        uint256 no;
        uint8 state;
    }

    struct Accounting {
        uint256 totalStaked;
        uint256 totalActiveStake;
        uint256 totalUnbonding;
        uint256 feesReceived;
        uint256 feesClaimed;
        uint256 undistributedFees;
        uint256 burned;
    }

    bool public initialized;
    Params private p;
    mapping(address => Validator) private vals;
    mapping(address => Unbonding[]) private queues;
    address[] private validatorList;
    address[] private activeList;
    SlashRecord[] private slashes;
    mapping(address => uint256) private lastOfflineRecord; // index + 1 of the validator's newest offline record
    mapping(bytes32 => bool) public evidenceSeen;
    Proposal[] private props;
    mapping(uint256 => mapping(address => bool)) public hasVoted;

    uint256 public totalStaked;
    uint256 public totalActiveStake;
    uint256 public totalUnbonding;
    uint256 public feesReceived;
    uint256 public feesClaimed;
    uint256 public undistributedFees;
    uint256 public burned;
    uint256 private accFeePerStake;
    uint256 private feeCarry;
    uint256 public lastBlockTimestamp;
    /// Σ over blocks (from block 2) of the chargeable seconds min(dt, offlineChargeCap()): the clock that
    /// offlineSeconds is counted on. A validator absent from every certificate in an interval has
    /// ΔofflineSeconds = ΔchargeableSeconds, so 1 − ΔofflineSeconds / ΔchargeableSeconds is the share of
    /// the interval's blocks it signed, weighted by their (capped) durations.
    uint256 public chargeableSeconds;

    event Staked(address indexed validator, uint256 amount, uint256 stake);
    event Unstaked(address indexed validator, uint256 amount, uint64 releaseAt);
    event Withdrawn(address indexed validator, uint256 amount);
    event FeesClaimed(address indexed validator, uint256 amount);
    event Slashed(address indexed validator, uint8 reason, uint256 amount);
    event Removed(address indexed validator);
    event Proposed(uint256 indexed id, address indexed proposer, uint8 kind, uint8 param, uint256 value, address target);
    event Voted(uint256 indexed id, address indexed voter, bool support, uint256 weight);
    event ProposalClosed(uint256 indexed id, uint8 state);

    modifier onlySystem() {
        require(msg.sender == SYSTEM, "EMPoS: system call only");
        _;
    }

    modifier onlyActive() {
        require(vals[msg.sender].status == STATUS_ACTIVE, "EMPoS: not an active validator");
        _;
    }

    // ------------------------------------------------------------------------------------------------
    // System calls

    function initialize(Params calldata params_, address[] calldata validators_, uint256[] calldata stakes_) external onlySystem {
        require(!initialized, "EMPoS: already initialized");
        require(validators_.length == stakes_.length, "EMPoS: length mismatch");
        _checkParams(params_);
        initialized = true;
        p = params_;
        for (uint256 i = 0; i < validators_.length; i++) {
            address v = validators_[i];
            require(vals[v].status == STATUS_NONE, "EMPoS: duplicate validator");
            require(stakes_[i] >= params_.minStake, "EMPoS: stake below minimum");
            require(activeList.length < params_.maxValidators, "EMPoS: validator set is full");
            validatorList.push(v);
            vals[v].stake = stakes_[i];
            totalStaked += stakes_[i];
            _activate(v);
        }
        require(address(this).balance == totalStaked, "EMPoS: genesis balance differs from the stakes");
        lastBlockTimestamp = block.timestamp;
    }

    uint8 public constant LIST_UNKNOWN = 0;
    uint8 public constant LIST_SIGNERS = 1;
    uint8 public constant LIST_ABSENT = 2;

    /// @param list LIST_SIGNERS: the validators whose votes are in the previous block's finality certificate;
    ///             LIST_ABSENT: the validators of the set that voted on the previous block who are not in it
    /// @param kind LIST_UNKNOWN when the chain does not know them (then only the clock advances)
    ///
    /// Offline time is charged per block, at most offlineChargeCap() seconds each. Why: the time between two
    /// blocks is only the absentees' doing while blocks could be made without them. When the whole network
    /// stalls (no quorum: e.g. 2 of 4 validators down), nobody can make a block, and the first block after
    /// the stall carries the whole stall in its dt; uncapped, it all fell on whoever happened to be missing
    /// from that one certificate (possibly a validator that was up throughout and just slow to vote), while
    /// those equally down who signed that block paid nothing. The cap is derived from the governed block
    /// time so that it follows governance without a parameter of its own:
    ///   cap = ceil(OFFLINE_CHARGE_SLOTS × max(blockTimeMs, 1000) / 1000) seconds, OFFLINE_CHARGE_SLOTS = 4.
    /// One slot is max(block time, 1 s): the nodes' round-timeout base (a missing proposal costs one slot
    /// before the next round) and the timestamps' resolution. An ordinary block with one absent validator
    /// takes one slot, two when the absent validator was the proposer (a round change), plus vote latency
    /// and up to 1 s of timestamp rounding — under 4 slots, so such absences are charged in full, exactly
    /// as without the cap. A stall costs each absentee at most 4 slots (20 s at 5 s blocks) per block made
    /// without it. A proposer's timestamp (up to 15 s in the future is accepted) cannot inflate the charge
    /// beyond the cap either. offlineSeconds and chargeableSeconds count the same capped seconds.
    function onBlockStart(address[] calldata list, uint8 kind) external onlySystem {
        uint256 dt = block.timestamp - lastBlockTimestamp;
        lastBlockTimestamp = block.timestamp;
        // block 1: the genesis has no certificate
        if (dt == 0 || block.number <= 1) return;
        uint256 cap = offlineChargeCap();
        if (dt > cap) dt = cap;
        chargeableSeconds += dt;
        if (kind == LIST_UNKNOWN || activeList.length == 0) return;
        if (kind == LIST_ABSENT) {
            // the chain knows the voting set (the epoch's): O(absentees), nobody else is read
            for (uint256 i = 0; i < list.length; i++) {
                address a = list[i];
                uint256 seen;
                assembly {
                    seen := tload(a)
                    tstore(a, 1)
                }
                if (seen == 0 && vals[a].status == STATUS_ACTIVE) _chargeOffline(a, dt);
            }
            for (uint256 i = 0; i < list.length; i++) {
                address a = list[i];
                assembly {
                    tstore(a, 0)
                }
            }
            return;
        }
        // LIST_SIGNERS: absent = active here − signers. Everyone signed (the signers are distinct validators
        // of the set that voted): nothing to do.
        if (list.length >= activeList.length) return;
        for (uint256 i = 0; i < list.length; i++) {
            address s = list[i];
            assembly {
                tstore(s, 1)
            }
        }
        // Active since the previous block or later: it was not in the set that voted on the parent.
        uint64 joinedLate = uint64(block.number - 1);
        address[] memory act = activeList;
        for (uint256 i = 0; i < act.length; i++) {
            address a = act[i];
            uint256 signed;
            assembly {
                signed := tload(a)
            }
            if (signed == 0 && vals[a].activeSinceBlock < joinedLate) _chargeOffline(a, dt);
        }
        for (uint256 i = 0; i < list.length; i++) {
            address s = list[i];
            assembly {
                tstore(s, 0)
            }
        }
    }

    /// Counts `dt` (already capped) offline and slashes for it; the seconds count even when the governed
    /// rate is 0, since the schedule's performance weighting reads them.
    function _chargeOffline(address a, uint256 dt) private {
        vals[a].offlineSeconds += uint64(dt);
        if (p.offlineSlashBpsPerDay != 0) _slash(a, p.offlineSlashBpsPerDay * dt, BPS * DAY, REASON_OFFLINE, false);
    }

    /// The most seconds of offline time one block charges: OFFLINE_CHARGE_SLOTS slots of
    /// max(blockTimeMs, 1000) ms, rounded up to whole seconds (4 s for block times up to 1 s, 20 s at 5 s).
    function offlineChargeCap() public view returns (uint256) {
        uint256 slotMs = p.blockTimeMs < 1000 ? 1000 : p.blockTimeMs;
        return (OFFLINE_CHARGE_SLOTS * slotMs + 999) / 1000;
    }

    /// @param amount the fees of the block, already credited to this contract's balance by the chain
    function distributeFees(uint256 amount) external onlySystem {
        if (amount == 0) return;
        feesReceived += amount;
        uint256 total = amount + undistributedFees;
        if (totalActiveStake == 0) {
            undistributedFees = total;
            return;
        }
        undistributedFees = 0;
        uint256 scaled = total * ACC + feeCarry;
        accFeePerStake += scaled / totalActiveStake;
        feeCarry = scaled % totalActiveStake;
    }

    // ------------------------------------------------------------------------------------------------
    // Staking

    function stake() external payable {
        require(msg.value > 0, "EMPoS: zero stake");
        Validator storage x = vals[msg.sender];
        require(x.status != STATUS_REMOVED, "EMPoS: validator removed");
        uint256 newStake = x.stake + msg.value;
        require(newStake >= p.minStake, "EMPoS: stake below minimum");
        if (x.status != STATUS_ACTIVE) require(activeList.length < p.maxValidators, "EMPoS: validator set is full");
        _settle(msg.sender);
        if (x.status == STATUS_NONE) validatorList.push(msg.sender);
        x.stake = newStake;
        totalStaked += msg.value;
        if (x.status == STATUS_ACTIVE) totalActiveStake += msg.value;
        else _activate(msg.sender);
        emit Staked(msg.sender, msg.value, newStake);
    }

    /// Starts unbonding `amount`; the rest must be 0 or at least the minimum stake.
    function unstake(uint256 amount) external {
        Validator storage x = vals[msg.sender];
        require(amount > 0 && amount <= x.stake, "EMPoS: amount exceeds stake");
        uint256 rest = x.stake - amount;
        require(rest == 0 || rest >= p.minStake || x.status == STATUS_REMOVED, "EMPoS: remaining stake below minimum");
        bool leaves = x.status == STATUS_ACTIVE && rest == 0;
        require(!leaves || activeList.length > 1, "EMPoS: the last active validator cannot leave");
        _settle(msg.sender);
        x.stake = rest;
        totalStaked -= amount;
        if (x.status == STATUS_ACTIVE) totalActiveStake -= amount;
        if (leaves) {
            _deactivate(msg.sender);
            x.status = STATUS_INACTIVE;
        }
        uint64 releaseAt = uint64(block.timestamp + p.unbondingSeconds);
        queues[msg.sender].push(Unbonding(amount, releaseAt));
        totalUnbonding += amount;
        emit Unstaked(msg.sender, amount, releaseAt);
    }

    /// Pays out every unbonding entry whose release time has come.
    function withdraw() external {
        Unbonding[] storage q = queues[msg.sender];
        uint256 out = 0;
        uint256 i = 0;
        while (i < q.length) {
            if (q[i].releaseAt <= block.timestamp) {
                out += q[i].amount;
                q[i] = q[q.length - 1];
                q.pop();
            } else {
                i++;
            }
        }
        require(out > 0, "EMPoS: nothing to withdraw");
        totalUnbonding -= out;
        emit Withdrawn(msg.sender, out);
        (bool ok, ) = msg.sender.call{value: out}("");
        require(ok, "EMPoS: transfer failed");
    }

    /// Pays the caller's share of the fees.
    function claimFees() external {
        _settle(msg.sender);
        Validator storage x = vals[msg.sender];
        uint256 out = x.owedScaled / ACC;
        require(out > 0, "EMPoS: no fees to claim");
        x.owedScaled -= out * ACC;
        feesClaimed += out;
        emit FeesClaimed(msg.sender, out);
        (bool ok, ) = msg.sender.call{value: out}("");
        require(ok, "EMPoS: transfer failed");
    }

    // ------------------------------------------------------------------------------------------------
    // Evidence

    function voteDigest(uint256 number, uint256 round, bytes32 blockHash) public view returns (bytes32) {
        return keccak256(abi.encodePacked("EMPoS/vote/v1", block.chainid, number, round, blockHash));
    }

    /// Double-sign evidence: two votes of `validator` at the same (number, round) for different blocks.
    function submitEvidence(
        address validator,
        uint256 number,
        uint256 round,
        bytes32 hashA,
        bytes calldata sigA,
        bytes32 hashB,
        bytes calldata sigB
    ) external returns (uint256 amount) {
        require(hashA != hashB, "EMPoS: votes for the same block");
        bytes32 id = keccak256(abi.encode(validator, number, round));
        require(!evidenceSeen[id], "EMPoS: evidence already submitted");
        require(
            validator != address(0) &&
                _recover(voteDigest(number, round, hashA), sigA) == validator &&
                _recover(voteDigest(number, round, hashB), sigB) == validator,
            "EMPoS: invalid evidence"
        );
        uint8 status = vals[validator].status;
        require(status != STATUS_NONE, "EMPoS: not a validator");
        require(status != STATUS_REMOVED, "EMPoS: validator already removed");
        evidenceSeen[id] = true;
        amount = _slash(validator, p.equivocationSlashBps, BPS, REASON_EQUIVOCATION, true);
        _remove(validator);
    }

    // ------------------------------------------------------------------------------------------------
    // Governance

    function propose(uint8 param, uint256 value) external onlyActive returns (uint256) {
        Params memory next = p;
        _setParam(next, param, value);
        _checkParams(next);
        return _open(KIND_PARAM, param, value, address(0));
    }

    /// Governance slashing of a malicious validator, up to 100 % (10,000 bps; 100 % also removes it).
    function proposeSlash(address validator, uint256 bps) external onlyActive returns (uint256) {
        require(bps > 0 && bps <= BPS, "EMPoS: slash must be 1..10000 bps");
        uint8 status = vals[validator].status;
        require(status != STATUS_NONE && status != STATUS_REMOVED, "EMPoS: not a validator");
        return _open(KIND_SLASH, 0, bps, validator);
    }

    function vote(uint256 id, bool support) external onlyActive {
        require(id < props.length, "EMPoS: unknown proposal");
        Proposal storage pr = props[id];
        require(pr.state == STATE_OPEN && block.timestamp <= pr.deadline, "EMPoS: voting closed");
        require(!hasVoted[id][msg.sender], "EMPoS: already voted");
        hasVoted[id][msg.sender] = true;
        uint256 weight = vals[msg.sender].stake;
        if (support) pr.yes += weight;
        else pr.no += weight;
        emit Voted(id, msg.sender, support, weight);
        if (pr.yes * 3 > totalActiveStake * 2) {
            pr.state = STATE_EXECUTED;
            _execute(pr);
            emit ProposalClosed(id, STATE_EXECUTED);
        } else if (pr.no * 3 >= totalActiveStake) {
            pr.state = STATE_REJECTED;
            emit ProposalClosed(id, STATE_REJECTED);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Views

    function params() external view returns (Params memory) {
        return p;
    }

    function validators() external view returns (ValidatorView[] memory out) {
        out = new ValidatorView[](validatorList.length);
        for (uint256 i = 0; i < validatorList.length; i++) {
            address a = validatorList[i];
            Validator storage x = vals[a];
            out[i] = ValidatorView(a, x.stake, x.status, unbondingOf(a), pendingFees(a), x.slashed, x.offlineSeconds);
        }
    }

    function activeValidators() external view returns (address[] memory addrs, uint256[] memory stakes) {
        addrs = activeList;
        stakes = new uint256[](addrs.length);
        for (uint256 i = 0; i < addrs.length; i++) stakes[i] = vals[addrs[i]].stake;
    }

    function unbondingOf(address a) public view returns (uint256 sum) {
        Unbonding[] storage q = queues[a];
        for (uint256 i = 0; i < q.length; i++) sum += q[i].amount;
    }

    function unbondingEntries(address a) external view returns (Unbonding[] memory) {
        return queues[a];
    }

    /// Fees the validator may claim now, in wei.
    function pendingFees(address a) public view returns (uint256) {
        Validator storage x = vals[a];
        uint256 owed = x.owedScaled;
        if (x.status == STATUS_ACTIVE) owed += x.stake * (accFeePerStake - x.accSnapshot);
        return owed / ACC;
    }

    function slashRecords() external view returns (SlashRecord[] memory) {
        return slashes;
    }

    function proposals() external view returns (Proposal[] memory out) {
        out = props;
        for (uint256 i = 0; i < out.length; i++) {
            if (out[i].state == STATE_OPEN && block.timestamp > out[i].deadline) out[i].state = STATE_EXPIRED;
        }
    }

    function accounting() external view returns (Accounting memory) {
        return Accounting(totalStaked, totalActiveStake, totalUnbonding, feesReceived, feesClaimed, undistributedFees, burned);
    }

    // ------------------------------------------------------------------------------------------------
    // Internals

    /// Moves the validator's accrued fee share into owedScaled (before any stake or status change).
    function _settle(address a) private {
        Validator storage x = vals[a];
        if (x.status == STATUS_ACTIVE) x.owedScaled += x.stake * (accFeePerStake - x.accSnapshot);
        x.accSnapshot = accFeePerStake;
    }

    function _activate(address a) private {
        Validator storage x = vals[a];
        x.accSnapshot = accFeePerStake;
        x.status = STATUS_ACTIVE;
        x.activeIndex = uint32(activeList.length);
        x.activeSinceBlock = uint64(block.number);
        activeList.push(a);
        totalActiveStake += x.stake;
    }

    /// Takes `a` out of the active list (the caller sets the new status).
    function _deactivate(address a) private {
        Validator storage x = vals[a];
        uint32 idx = x.activeIndex;
        address last = activeList[activeList.length - 1];
        activeList[idx] = last;
        vals[last].activeIndex = idx;
        activeList.pop();
        totalActiveStake -= x.stake;
    }

    function _remove(address a) private {
        Validator storage x = vals[a];
        if (x.status == STATUS_ACTIVE) {
            _settle(a);
            _deactivate(a);
        }
        x.status = STATUS_REMOVED;
        emit Removed(a);
    }

    /// Burns num/den of the stake (and of the unbonding entries when `unbonding`); returns the amount.
    function _slash(address a, uint256 num, uint256 den, uint8 reason, bool unbonding) private returns (uint256 amount) {
        if (num > den) num = den; // never more than everything (e.g. offline for over 1,000 days)
        Validator storage x = vals[a];
        _settle(a);
        amount = (x.stake * num) / den;
        x.stake -= amount;
        totalStaked -= amount;
        if (x.status == STATUS_ACTIVE) {
            totalActiveStake -= amount;
            if (x.stake == 0) {
                _deactivate(a); // nothing left at stake: no votes, no fee share
                x.status = STATUS_INACTIVE;
            }
        }
        if (unbonding) {
            Unbonding[] storage q = queues[a];
            uint256 cutTotal = 0;
            for (uint256 i = 0; i < q.length; i++) {
                uint256 cut = (q[i].amount * num) / den;
                q[i].amount -= cut;
                cutTotal += cut;
            }
            totalUnbonding -= cutTotal;
            amount += cutTotal;
        }
        if (amount == 0) return 0;
        x.slashed += amount;
        burned += amount;
        uint64 n = uint64(block.number);
        uint256 last = lastOfflineRecord[a];
        if (reason == REASON_OFFLINE && last != 0 && slashes[last - 1].toBlock + 1 == n) {
            // consecutive offline blocks extend one record
            SlashRecord storage r = slashes[last - 1];
            r.amount += amount;
            r.toBlock = n;
            r.timestamp = uint64(block.timestamp);
        } else {
            slashes.push(SlashRecord(a, reason, amount, n, n, uint64(block.timestamp)));
            if (reason == REASON_OFFLINE) lastOfflineRecord[a] = slashes.length;
        }
        emit Slashed(a, reason, amount);
    }

    function _open(uint8 kind, uint8 param, uint256 value, address target) private returns (uint256 id) {
        id = props.length;
        uint64 now_ = uint64(block.timestamp);
        props.push(Proposal(id, msg.sender, kind, param, value, target, now_, uint64(now_ + p.votingPeriodSeconds), 0, 0, STATE_OPEN));
        emit Proposed(id, msg.sender, kind, param, value, target);
    }

    function _execute(Proposal storage pr) private {
        if (pr.kind == KIND_PARAM) {
            Params memory next = p;
            _setParam(next, pr.param, pr.value);
            _checkParams(next);
            p = next;
        } else {
            uint8 status = vals[pr.target].status;
            if (status == STATUS_NONE || status == STATUS_REMOVED) return;
            _slash(pr.target, pr.value, BPS, REASON_GOVERNANCE, true);
            if (pr.value == BPS) _remove(pr.target);
        }
    }

    function _setParam(Params memory q, uint8 param, uint256 value) private pure {
        if (param == PARAM_BLOCK_TIME_MS) q.blockTimeMs = value;
        else if (param == PARAM_MIN_BASE_FEE) q.minBaseFee = value;
        else if (param == PARAM_MIN_STAKE) q.minStake = value;
        else if (param == PARAM_MAX_VALIDATORS) q.maxValidators = value;
        else if (param == PARAM_OFFLINE_SLASH_BPS_PER_DAY) q.offlineSlashBpsPerDay = value;
        else if (param == PARAM_EQUIVOCATION_SLASH_BPS) q.equivocationSlashBps = value;
        else if (param == PARAM_UNBONDING_SECONDS) q.unbondingSeconds = value;
        else if (param == PARAM_VOTING_PERIOD_SECONDS) q.votingPeriodSeconds = value;
        else revert("EMPoS: unknown parameter");
    }

    function _checkParams(Params memory q) private pure {
        require(q.blockTimeMs >= 50 && q.blockTimeMs <= 3_600_000, "EMPoS: blockTimeMs out of range");
        require(q.minStake > 0, "EMPoS: minStake must be positive");
        require(q.maxValidators >= 1 && q.maxValidators <= 100_000, "EMPoS: maxValidators out of range");
        require(q.offlineSlashBpsPerDay <= BPS, "EMPoS: offline slash above 100 %");
        require(q.equivocationSlashBps <= BPS, "EMPoS: equivocation slash above 100 %");
        require(q.unbondingSeconds <= 365 days, "EMPoS: unbonding above a year");
        require(q.votingPeriodSeconds >= 1 && q.votingPeriodSeconds <= 365 days, "EMPoS: voting period out of range");
        require(q.minBaseFee <= 1e15, "EMPoS: minBaseFee out of range");
    }

    function _recover(bytes32 digest, bytes calldata sig) private pure returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if ((v != 27 && v != 28) || uint256(s) > HALF_N) return address(0);
        return ecrecover(digest, v, r, s);
    }
}
